"""RACE (middle and high): an article, a question and four options, answer A, B, C or D."""

from paft_ext.pools.compose import Parts, Side
from paft_ext.pools.parts import CHOICE_TEST_ANSWER_LINES, FOUR_OPTION_TRAIN_ANSWER_LINES

# Train-only members (the parts every shipped pool had before the test side was split off).
TRAIN = Side(
    instructions=(
        "Read the article and answer the question.",
        "Based on the passage, which option is correct? Reply with A, B, C or D.",
        "You are an English teacher grading a reading test. Choose the right answer.",
        "Answer the reading comprehension question.",
        "Read the text carefully, find the relevant sentences, and then select the best answer to the question.",
        "Reading comprehension: only one option is supported by the passage. Which one?",
        "Hey, can you answer this question about the text?",
        "Select the option that best answers the question according to the article.",
        "Think about what the author says before choosing an answer.",
        "As a student preparing for an exam, pick the correct answer.",
        "Task: multiple-choice reading comprehension. Identify the correct option.",
        "Look for evidence in the passage. Which answer does it support?",
        "Below is an article, a question about it, and four options. Exactly one option is correct.",
        "Consider the main idea and the details of the passage, then choose the best answer.",
        "What is the answer?",
        "Work through the question step by step using the article, then give the letter of your choice.",
        "Pretend you are helping a classmate with homework. Which option is right?",
        "Determine which option is consistent with the passage.",
        "Three of the options are wrong or not supported. Find the correct one.",
        "Answer this exam question.",
        "Pick A, B, C or D.",
        "Using only information from the text, which choice is correct?",
        "You are taking an English exam. Choose the correct answer.",
        "Help me with this reading question: which option fits best?",
        "Evaluate the four options against the article and select the best one.",
        "Which answer would a careful reader give?",
        "Multiple choice (four options). Answer based on the passage.",
    ),
    contexts=(
        "Article:\n{article}\n\nQuestion: {question}",
        "{article}\n\n{question}",
        "Passage:\n{article}\n\nQ: {question}",
        "Question: {question}\n\nArticle:\n{article}",
        "Text:\n{article}\nQuestion about the text: {question}",
        "Read this:\n{article}\n\nNow answer: {question}",
        "Q: {question}\nPassage: {article}",
        "Story:\n{article}\n\n{question}\nOptions:",
        "\"{article}\"\n\nQuestion: {question}",
        "Here is the article -> {article}\nHere is the question -> {question}",
    ),
    answer_lines=FOUR_OPTION_TRAIN_ANSWER_LINES,
)

# Test-only members: written apart from the train side, sharing no sentence with it.
TEST = Side(
    instructions=(
        "An English exam passage is followed by one question and four candidate answers; the passage "
        "supports exactly one.",
        "Which choice does the text back up?",
        "You are the examiner's answer key. Mark the choice that the passage backs up.",
        "Comprehension exam item. Locate the evidence in the passage and choose accordingly.",
        "Skim the passage, find the lines the question is about, and report the supported choice.",
        "Imagine you must defend your choice by quoting the passage. Which choice can you defend?",
        "Your student asks for help with this item, so give them the supported choice.",
        "Resolve the item from the passage.",
        "Only one choice agrees with the author; the rest contradict the text or go beyond it.",
        "Decide which choice the author would agree with.",
        "According to the passage, which choice holds?",
        "Reading exam, four choices, your pick.",
    ),
    contexts=(
        "PASSAGE\n{article}\n\nITEM\n{question}",
        "The text -\n{article}\n\nAsked: {question}",
        "[Reading] {article}\n[Item] {question}",
        "{question}\n(Based on the following passage.)\n{article}",
        "Exam passage...\n{article}\nItem... {question}",
        "Consider this passage.\n{article}\nThen: {question}",
    ),
    answer_lines=CHOICE_TEST_ANSWER_LINES,
)

PARTS = Parts(TRAIN, TEST, options=("A", "B", "C", "D"))
