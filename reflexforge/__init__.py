"""The forge: telemetry -> feature windows -> oracle labels -> trees -> .reflex."""
