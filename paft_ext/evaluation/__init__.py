"""Stage 3: evaluation with OpenCompass across every test prompt, and the robustness report."""
