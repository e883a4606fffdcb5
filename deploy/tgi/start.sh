#!/bin/sh
# Start Text Generation Inference with every LoRA adapter found in $ADAPTERS_DIR.
#
# Each adapter is a directory holding adapter_config.json (what PEFT's save_pretrained writes);
# it is served under its directory name, which is the model version name that the registry
# passes to TGI as adapter_id. A new or promoted adapter is picked up on the next restart.
# Arguments are passed on to text-generation-launcher (--model-id and friends).
set -eu

ADAPTERS_DIR="${ADAPTERS_DIR:-/adapters}"
LAUNCHER="${TGI_LAUNCHER:-text-generation-launcher}"
adapters=""
for config in "$ADAPTERS_DIR"/*/adapter_config.json; do
    [ -e "$config" ] || continue
    dir=$(dirname "$config")
    name=$(basename "$dir")
    case "$name" in
        *[!A-Za-z0-9._-]*) echo "skipping adapter '$name': use letters, digits, '.', '_' or '-'" >&2; continue ;;
    esac
    adapters="${adapters:+$adapters,}$name=$dir"
done

if [ -n "$adapters" ]; then
    echo "Serving LoRA adapters: $adapters" >&2
    exec "$LAUNCHER" "$@" --lora-adapters "$adapters"
fi
echo "No LoRA adapters in $ADAPTERS_DIR; serving the base model only." >&2
exec "$LAUNCHER" "$@"
