"""SciQ: a science exam question with its support paragraph and four options, answer A, B, C or D."""

from paft_ext.pools.compose import Parts, Side
from paft_ext.pools.parts import CHOICE_TEST_ANSWER_LINES, FOUR_OPTION_TRAIN_ANSWER_LINES

TRAIN = Side(
    instructions=(
        "Answer the science question.",
        "Read the paragraph and pick the correct answer to the question.",
        "You are a science teacher. Choose the right option.",
        "Use the background text to answer the question below.",
        "Science quiz: exactly one of the four options is correct. Select it.",
        "Which option correctly answers the question? Reply with A, B, C or D.",
        "Hey, could you help me with this science homework question?",
        "Think about the facts in the paragraph before you choose an answer.",
        "Multiple choice science question with four options.",
        "Pick the answer that the supporting text confirms.",
        "As a student studying for a biology, chemistry or physics test, answer this question.",
        "Find the sentence in the text that answers the question, then give the matching option.",
        "Identify the correct answer.",
        "Determine which of the options is scientifically correct.",
        "Three options are distractors and one is right. Which one is right?",
        "Quiz time! Choose A, B, C or D.",
        "Below is a short science text, a question about it and four possible answers.",
        "Answer the exam question using the information provided.",
        "You are an expert in the natural sciences. Select the best answer.",
        "Work through the question step by step, then state the letter of your answer.",
        "Select the option that fits the question best.",
        "Here is a question from a school science test.",
        "Consider each option in turn and keep the one the passage supports.",
        "What is the answer to this question?",
        "Respond to the multiple-choice question correctly.",
        "Use what you know about science, and the text, to choose an answer.",
        "Pretend you are taking a science exam. Mark the correct option.",
    ),
    contexts=(
        "Paragraph: {support}\nQuestion: {question}",
        "{support}\n\n{question}",
        "Background:\n{support}\n\nQ: {question}",
        "Question: {question}\nSupporting text: {support}",
        "Text: {support}\nQuestion about the text: {question}",
        "Read this first: {support}\nNow answer: {question}",
        "Q: {question}\nContext: {support}",
        "Science notes:\n{support}\n\n{question}",
        "\"{support}\"\n\nQuestion: {question}",
        "Here is the supporting paragraph -> {support}\nHere is the question -> {question}",
    ),
    answer_lines=FOUR_OPTION_TRAIN_ANSWER_LINES,
)

# Test-only members: written apart from the train side, sharing no sentence with it.
TEST = Side(
    instructions=(
        "A science exam item follows; a short reading explains the topic, and one of four choices is right.",
        "Which choice does the reading back up?",
        "You grade the science olympiad. Mark the choice a top student would circle.",
        "Natural-science item. Check the reading and settle on one choice.",
        "Skim the reading for the fact that the item asks about, then report the matching choice.",
        "Imagine you must justify your choice with a line from the reading. Which choice can you justify?",
        "My little brother is stuck on this one from his science worksheet, so tell him the right choice.",
        "Resolve the item using the reading.",
        "Only one choice is true to science; the others are plausible-sounding traps.",
        "Decide which choice a physics, chemistry or biology textbook would agree with.",
        "Based on the reading, which choice holds?",
        "Science test, four choices, your pick.",
    ),
    contexts=(
        "READING\n{support}\n\nITEM\n{question}",
        "The reading -\n{support}\n\nAsked: {question}",
        "[Reading] {support}\n[Item] {question}",
        "{question}\n(The reading below may help.)\n{support}",
        "From the textbook...\n{support}\nItem... {question}",
        "Study this reading.\n{support}\nThen: {question}",
    ),
    answer_lines=CHOICE_TEST_ANSWER_LINES,
)

PARTS = Parts(TRAIN, TEST, options=("A", "B", "C", "D"))
