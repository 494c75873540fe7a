"""SST-2: one movie-review sentence, answer A (negative) or B (positive); the labels are the option fields."""

from paft_ext.pools.compose import Parts, Side
from paft_ext.pools.parts import CHOICE_TEST_ANSWER_LINES

TRAIN = Side(
    instructions=(
        "Decide whether the sentiment of the review is negative or positive.",
        "Is this movie review sentence favourable or unfavourable? Reply with A or B.",
        "You are a sentiment analysis system. Classify the sentence below.",
        "Classify the sentiment.",
        "Read the excerpt from a film review carefully and decide how the reviewer feels about the movie.",
        "Sentiment classification: does the writer like or dislike the film?",
        "Hey, does this sound like a good or a bad review to you?",
        "Determine the polarity of the following review sentence.",
        "Think about the words the critic uses, then choose the sentiment they express.",
        "As a movie critic's assistant, label the opinion in this sentence.",
        "Task: binary sentiment analysis of a movie review.",
        "Would the author of this sentence recommend the movie?",
        "Below is a sentence taken from a movie review. It expresses either a negative or a positive opinion.",
        "Consider the tone and the word choice, and identify the overall sentiment.",
        "What is the sentiment of this sentence?",
        "Analyse the sentence step by step, then give the letter of its sentiment.",
        "Pretend you are sorting reviews into two piles. Which pile does this one go on?",
        "Identify whether the reviewer's attitude is negative or positive.",
        "One label fits this review and the other does not. Find the one that fits.",
        "Answer this question about the opinion expressed in a movie review.",
        "Pick A or B.",
        "Based on the language used, which sentiment is expressed?",
        "You are taking a test on reading comprehension. Choose the sentiment of the text.",
        "Help me understand this review: is the critic happy with the film or not?",
        "Evaluate the emotional tone of the sentence and select the matching label.",
        "How would a careful reader describe the critic's opinion here?",
        "Ignore the plot details and focus on the opinion, then choose.",
        "Multiple choice (two options). Select the sentiment of the review sentence.",
    ),
    contexts=(
        "Review: {sentence}",
        "{sentence}",
        "Sentence: {sentence}",
        "Text: {sentence}",
        "Movie review: {sentence}",
        "Here is what the critic wrote: {sentence}",
        "Q: What is the sentiment of \"{sentence}\"?",
        "Excerpt: \"{sentence}\"",
        "Input: {sentence}\nSentiment options:",
        "The review says -> {sentence}",
    ),
    answer_lines=(
        "Answer:",
        "",
        "Answer with A or B.",
        "Reply with just the letter.",
        "The sentiment is",
        "Your answer (A/B):",
        "Respond with the letter of the correct sentiment only.",
        "Label:",
        "Give only A or B, nothing else.",
        "Letter:",
    ),
)

# Test-only members: written apart from the train side, sharing no sentence with it.
TEST = Side(
    instructions=(
        "A critic wrote the line shown; tell me whether they walked out of the cinema pleased or disappointed.",
        "Thumbs up or thumbs down?",
        "You're skimming quotes for a film poster. Mark each quote by the mood it carries.",
        "Opinion-mining exam item. Mark the attitude toward the film that the quote conveys.",
        "Read the quote, weigh its wording, and report its polarity.",
        "Would the studio put this quote on the poster? Pick the label that matches its feeling.",
        "Your friend read this line aloud from a newspaper and wants to know if the critic liked the picture.",
        "Tag the mood of the quote.",
        "Judge the feeling behind the quote from its adjectives, its irony and what it praises or mocks.",
        "Film-criticism item: the quote leans one way, and you have to say which.",
        "Call it: praise or pan?",
        "Two labels, one quote about a film, your verdict.",
    ),
    contexts=(
        "The quote: {sentence}",
        "Critic's line - {sentence}",
        "[Quote] {sentence}",
        "QUOTE\n{sentence}",
        "What was printed: {sentence}",
        "Someone wrote this about a film... {sentence}",
    ),
    answer_lines=CHOICE_TEST_ANSWER_LINES,
)

PARTS = Parts(TRAIN, TEST, options=("A", "B"))
