"""TinyBERT transformer distillation: losses, layer mapping, students, GLUE and the CLI."""
