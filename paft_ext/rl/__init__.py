"""PAFT for reinforcement-learning fine-tuning: GRPO whose prompt template is re-drawn every K steps."""
