"""Hand-written prompt parts per pool (written for paft_ext, not copied from the paper's spreadsheets)."""

# Test-side answer lines of the multiple-choice pools (none of them occurs on any pool's train side).
CHOICE_TEST_ANSWER_LINES = ("", "Reply with the single letter of your pick.", "Your pick, as one letter:",
                            "Which letter?", "Respond in one character.", "Verdict:")
