"""HellaSwag: a short context and four possible endings, answer A, B, C or D."""

from paft_ext.pools.compose import Parts, Side
from paft_ext.pools.parts import CHOICE_TEST_ANSWER_LINES

# Train-only members (the parts every shipped pool had before the test side was split off).
TRAIN = Side(
    instructions=(
        "Choose the most plausible continuation.",
        "Which ending makes the most sense? Reply with A, B, C or D.",
        "You are a storyteller with great common sense. Pick the ending that naturally follows.",
        "What happens next?",
        "Read the context carefully and select the ending that is most likely to come next in real life.",
        "Commonsense inference: only one of these endings fits the situation. Which one?",
        "Hey, which of these endings sounds right?",
        "Select the most appropriate completion of the passage.",
        "Think about what people usually do in this situation before choosing an ending.",
        "As a video narrator, tell me which sentence would come next.",
        "Task: sentence completion. Identify the correct ending.",
        "Picture the scene. Which continuation is realistic?",
        "Below is the beginning of a description followed by four possible endings. Exactly one is correct.",
        "Consider the activity being described and choose the ending that logically continues it.",
        "How does it continue?",
        "Go through the endings one by one, then give the letter of the best one.",
        "Pretend you are finishing a friend's sentence. Which ending would you choose?",
        "Determine which ending is coherent with the context.",
        "Three of these endings are odd or impossible. Find the natural one.",
        "Answer this question about what comes next.",
        "Pick A, B, C or D.",
        "Using common sense about everyday activities, which ending is best?",
        "You are taking a reading test. Choose the correct continuation.",
        "Help me complete this description: which ending fits?",
        "Evaluate the four candidate endings and select the most plausible.",
        "Which ending would a careful observer expect?",
        "Multiple choice (four options). Select the ending that makes sense.",
        "Finish the scene with the most sensible option.",
    ),
    contexts=(
        "Context: {ctx}",
        "{ctx}",
        "Question: {ctx} ...",
        "Beginning: {ctx}",
        "Scene: {ctx}",
        "Story so far: {ctx}",
        "Q: How does this continue? {ctx}",
        "{ctx} ___\nPossible endings:",
        "Passage: \"{ctx}\"",
        "Here is the start -> {ctx}",
    ),
    answer_lines=(
        "Answer:",
        "",
        "Answer with A, B, C or D.",
        "Reply with just the letter.",
        "The best ending is",
        "Your answer (A/B/C/D):",
        "Respond with the letter of the correct ending only.",
        "Correct option:",
        "You may choose from 'A', 'B', 'C', 'D'.",
        "Letter:",
    ),
)

# Test-only members: written apart from the train side, sharing no sentence with it.
TEST = Side(
    instructions=(
        "A scene is cut off mid-action; of the four candidate next sentences, only one is what a viewer "
        "would see next.",
        "Which sentence comes next?",
        "You are watching a how-to video that was paused. Guess the very next line of narration.",
        "Reading-test item: complete the activity description with the ending that is physically and "
        "socially realistic.",
        "Judge each ending by whether it continues the same activity, then name the winner.",
        "Imagine you filmed this. Which ending did the camera capture?",
        "Your job is to finish the description so that it stays coherent.",
        "Pick the follow-up a sensible narrator would write.",
        "Finish the story.",
        "Three endings are nonsense or off-topic; spot the one that isn't.",
        "Predict the continuation.",
        "Help a caption writer decide which line should follow.",
    ),
    contexts=(
        "Opening: {ctx}",
        "So far we have - {ctx}",
        "[Description] {ctx}",
        "The clip begins like this... {ctx}",
        "TEXT\n{ctx}",
        "{ctx} (to be continued)",
    ),
    answer_lines=CHOICE_TEST_ANSWER_LINES,
)

PARTS = Parts(TRAIN, TEST, options=("A", "B", "C", "D"))
