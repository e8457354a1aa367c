"""The IM server: a dialect-neutral core with TIM and Feishu dialects on top."""
