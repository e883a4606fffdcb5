"""The evaluation harness for the four success metrics of the founding research."""
