"""PIQA: a goal and two candidate solutions, answer A or B."""

from paft_ext.pools.compose import Parts, Side
from paft_ext.pools.parts import CHOICE_TEST_ANSWER_LINES

# Train-only members (the parts every shipped pool had before the test side was split off).
TRAIN = Side(
    instructions=(
        "Choose the solution that best achieves the goal.",
        "Which of the two solutions is more sensible? Reply with A or B.",
        "You are an expert in everyday physics and practical know-how. Decide which method actually works.",
        "Pick the better way to do it.",
        "Read the goal and both solutions carefully, then select the one a sensible person would use.",
        "Physical commonsense check: only one of these approaches will work in the real world. Which one?",
        "Hey, quick question - which of these would actually work?",
        "Select the most appropriate solution for the stated objective.",
        "Think about the materials and actions involved before choosing the correct solution.",
        "As a handy DIY assistant, tell me which option gets the job done.",
        "Task: physical reasoning. Identify the correct solution.",
        "Imagine actually trying both ideas. Which one succeeds?",
        "Below is a goal followed by two possible solutions. Exactly one of them is correct.",
        "Consider how objects behave physically and choose the solution that accomplishes the goal.",
        "Which option is the right way to accomplish this?",
        "Evaluate both solutions step by step, then give the letter of the one that works.",
        "Pretend you are teaching a friend a life hack. Which solution would you recommend?",
        "Determine which solution is physically plausible.",
        "One of these is a practical solution and the other is flawed. Find the practical one.",
        "Answer this commonsense question about the physical world.",
        "Pick A or B.",
        "Using common sense about how things work, which choice is better?",
        "You are taking a test on practical reasoning. Choose the correct answer.",
        "Help me decide: which approach should I take to reach this goal?",
        "Assess the two candidate solutions and select the more effective one.",
        "Which would a careful, experienced person do?",
        "Consider safety, feasibility and common sense, then choose.",
        "Multiple choice (two options). Select the solution that makes sense.",
        "I need to get this done. Which method is correct?",
        "Given a goal, pick the solution that achieves it. Only one is right.",
    ),
    contexts=(
        "Goal: {goal}",
        "{goal}",
        "Question: {goal}",
        "Task: {goal}",
        "Objective: {goal}",
        "What I want to do: {goal}",
        "Q: {goal}",
        "How would you do this? {goal}",
        "Situation: {goal}\nPossible solutions:",
        "Here is the goal -> {goal}",
    ),
    answer_lines=(
        "Answer:",
        "",
        "Answer with A or B.",
        "Reply with just the letter.",
        "The correct solution is",
        "Your answer (A/B):",
        "Respond with the letter of the correct solution only.",
        "Correct option:",
        "Give only A or B, nothing else.",
        "Letter:",
    ),
)

# Test-only members: written apart from the train side, sharing no sentence with it.
TEST = Side(
    instructions=(
        "Two ways to reach one aim are listed; exactly one of them would succeed if you actually tried it.",
        "Which procedure holds up?",
        "You're standing there with only these two plans. Go with the one that holds up in practice.",
        "Practical physics exam item. Mark the procedure that accomplishes the stated aim.",
        "Read the aim, weigh both procedures, and report the workable one.",
        "Would a plumber, a cook or a carpenter approve? Pick the procedure that really does the job.",
        "Your friend asks how to do something, and only one of these two suggestions would really help them.",
        "Identify the workable procedure.",
        "Decide which approach a reasonable person would try, given how real objects, forces and materials behave.",
        "Everyday-physics item: one procedure is sound, the other has a flaw that makes it fail.",
        "State which plan you'd bet on.",
        "Common sense about the physical world, two candidates, your call.",
    ),
    contexts=(
        "The aim: {goal}",
        "Desired outcome - {goal}",
        "[Aim] {goal}",
        "PROBLEM\n{goal}",
        "What needs doing: {goal}",
        "Here's what I'm trying to do... {goal}",
    ),
    answer_lines=CHOICE_TEST_ANSWER_LINES,
)

PARTS = Parts(TRAIN, TEST, options=("sol1", "sol2"))
