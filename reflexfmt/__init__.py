"""NEM1 .reflex format: reader, writer, validator, evaluator."""
