"""WinoGrande: a sentence with a blank `_` and two candidate fillers, answer A or B."""

from paft_ext.pools.compose import Parts, Side
from paft_ext.pools.parts import CHOICE_TEST_ANSWER_LINES

# Train-only members (the parts every shipped pool had before the test side was split off).
TRAIN = Side(
    instructions=(
        "Choose the option that correctly fills the blank.",
        "Which word or phrase best completes the sentence where the underscore is? Reply A or B.",
        "You are a careful reader. Decide what the blank (_) refers to.",
        "Fill in the blank.",
        "Read the sentence and figure out who or what the blank stands for, using common sense.",
        "Pronoun resolution task: the underscore hides a name or noun. Pick the right one.",
        "Quick one - which option goes in the blank?",
        "Select the candidate that makes the sentence logically consistent.",
        "Think about the situation described before choosing what fits in the gap.",
        "As an English teacher, explain to yourself which choice fits, then give the letter.",
        "Task: commonsense coreference. Identify the correct filler for _.",
        "Replace the _ with each option in your head. Which version makes sense?",
        "The sentence below contains a blank. Exactly one of the two options fits.",
        "Consider the meaning of the whole sentence and choose the entity that belongs in the blank.",
        "Which option does the blank refer to?",
        "Reason step by step about the sentence, then state the letter of the right option.",
        "Pretend you are solving a word puzzle with a friend. What fills the gap?",
        "Determine which option the missing word should be.",
        "One option makes the sentence sensible, the other makes it absurd. Find the sensible one.",
        "Answer this fill-in-the-blank question.",
        "Pick A or B.",
        "Using everyday knowledge, which choice completes the statement correctly?",
        "You are taking a reading test. Choose the correct answer for the blank.",
        "Help me finish this sentence: which option belongs where the underscore is?",
        "Evaluate both candidates and select the one that fits the context.",
        "Which would a native speaker put in the blank?",
        "Two candidates, one blank. Choose wisely.",
        "Multiple choice: select the word that fills the gap.",
    ),
    contexts=(
        "Sentence: {prompt}",
        "{prompt}",
        "Question: {prompt}",
        "Fill in the blank: {prompt}",
        "Text with a gap: {prompt}",
        "\"{prompt}\"",
        "Q: {prompt}",
        "Complete this: {prompt}",
        "Statement: {prompt}\nCandidates:",
        "Here is the sentence -> {prompt}",
    ),
    answer_lines=(
        "Answer:",
        "",
        "Answer with A or B.",
        "Reply with just the letter.",
        "The blank should be",
        "Your answer (A/B):",
        "Respond with the letter of the correct option only.",
        "Correct option:",
        "Give only A or B.",
        "Letter:",
    ),
)

# Test-only members: written apart from the train side, sharing no sentence with it.
TEST = Side(
    instructions=(
        "One word is missing from the sentence and marked with an underscore; two candidates could go there.",
        "Who or what is the underscore?",
        "You are proofreading. Restore the missing name or noun so the sentence means something sensible.",
        "Grammar-and-sense exam item. Decide which candidate the gap must contain.",
        "Try each candidate in the gap, keep the reading that fits how people behave, and name it.",
        "Plug in each candidate; which reading is sensible?",
        "Your friend wrote this sentence but left a gap. What did they mean to write there?",
        "Resolve the gap.",
        "Commonsense cloze: exactly one candidate is coherent.",
        "Decide what belongs in the gap, based on the logic of the situation.",
        "Which candidate completes it?",
        "Two names, one slot, your call.",
    ),
    contexts=(
        "Gapped sentence: {prompt}",
        "The sentence reads - {prompt}",
        "[Text] {prompt}",
        "CLOZE\n{prompt}",
        "Consider this line: {prompt}",
        "Here's the line with the gap... {prompt}",
    ),
    answer_lines=CHOICE_TEST_ANSWER_LINES,
)

PARTS = Parts(TRAIN, TEST, options=("only_option1", "only_option2"))
