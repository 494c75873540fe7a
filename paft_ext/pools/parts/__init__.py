"""Hand-written prompt parts per pool (written for paft_ext, not copied from the paper's spreadsheets)."""

# Test-side answer lines of the multiple-choice pools (none of them occurs on any pool's train side).
CHOICE_TEST_ANSWER_LINES = ("", "Reply with the single letter of your pick.", "Your pick, as one letter:",
                            "Which letter?", "Respond in one character.", "Verdict:")
# Train-side answer lines of the four-option pools (RACE, SciQ): cues for a letter from A to D.
FOUR_OPTION_TRAIN_ANSWER_LINES = ("Answer:", "", "Answer with A, B, C or D.", "Reply with just the letter.",
                                  "The correct answer is", "Your answer (A/B/C/D):",
                                  "Respond with the letter of the correct option only.", "Correct option:",
                                  "You may choose from 'A', 'B', 'C', 'D'.", "Letter:")
