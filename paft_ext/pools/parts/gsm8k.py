"""GSM8K: a maths word problem; the final answer is one number."""

from paft_ext.pools.compose import Parts, Side

# Train-only members (the parts every shipped pool had before the test side was split off).
TRAIN = Side(
    instructions=(
        "Solve the problem.",
        "Solve this math word problem. Show your reasoning.",
        "You are a patient math tutor. Work through the problem carefully.",
        "Calculate the answer.",
        "Read the problem, identify the quantities involved, set up the calculation and solve it.",
        "Grade-school math: figure out the exact numeric answer.",
        "Hey, can you help me with this math question?",
        "Determine the correct numerical answer to the following problem.",
        "Think step by step before giving the final answer.",
        "As a calculator that explains itself, compute the result.",
        "Task: arithmetic reasoning. Find the answer.",
        "Break the problem into small steps and solve each one.",
        "Below is a word problem. Work it out.",
        "Consider every number in the problem and how they relate, then solve.",
        "What is the answer?",
        "Let's think step by step.",
        "Pretend you are explaining the solution to a 10-year-old.",
        "Find the value the question asks for.",
        "Solve carefully; watch out for units and multi-step calculations.",
        "Answer this math question.",
        "Compute.",
        "Use clear reasoning to reach the final number.",
        "You are taking a math test. Solve the problem.",
        "Help me work out this problem.",
        "Reason through the problem and give the result.",
        "How would a careful student solve this?",
        "Solve the following problem and double-check your arithmetic.",
    ),
    contexts=(
        "Question: {question}",
        "{question}",
        "Problem: {question}",
        "Q: {question}",
        "Math problem:\n{question}",
        "Here is the problem -> {question}",
        "Word problem: \"{question}\"",
        "Exercise:\n{question}",
        "{question}\n(Use only the information given.)",
        "Task: {question}",
    ),
    answer_lines=(
        "Answer:",
        "",
        "End your response with 'The answer is N', where N is a number.",
        "Put your final answer within \\boxed{}.",
        "Write the final number after '####'.",
        "Give the final answer as a number on the last line.",
        "Final answer:",
        "State the final answer clearly at the end.",
        "Conclude with: The answer is <number>.",
        "Show your work, then write the answer.",
    ),
)

# Test-only members: written apart from the train side, sharing no sentence with it.
TEST = Side(
    instructions=(
        "Work out the quantity the word problem asks for, writing out each step of arithmetic.",
        "How much is it?",
        "You are grading a maths worksheet; produce the model solution.",
        "Arithmetic word problem. Reason it through and report the result.",
        "Write out the intermediate quantities, then combine them into the result.",
        "Your little brother is stuck on this homework, so walk him through it.",
        "Figure it out.",
        "Careful: read every number, decide which operation each step needs, and only then compute.",
        "Quantitative reasoning item: give the exact value.",
        "What number answers the question below?",
        "Solve it the way an accountant would, tidy and checked.",
        "Maths time!",
    ),
    contexts=(
        "The problem -\n{question}",
        "[Word problem] {question}",
        "PROBLEM\n{question}",
        "{question}\n(Show the steps.)",
        "Consider this: {question}",
        "Here's the question... {question}",
    ),
    answer_lines=(
        "",
        "Finish with a line of the form 'Result: <number>'.",
        "End with the number alone on the final line.",
        "Report the number at the very end.",
        "Write the result after 'The answer is'.",
        "Box the final number like this: \\boxed{}.",
    ),
)

PARTS = Parts(TRAIN, TEST)
