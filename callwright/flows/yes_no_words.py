"""The English words `flows.yes_no` reads answers with: vocabulary, not phrases.

Spelling families are patterns ("yeah", "yeh", "yah"; "nope", "naw"; "mm-hmm", "uh-huh"), so
a spelling the recogniser has not written before is still read. The word sets are the cue
words of the language (assent adverbs, judgements, problem nouns, negators, question words);
how they combine is `flows.yes_no`.
"""

import re

YES = re.compile(r"y+(?:e+[sp]+|e+a+[hp]*|e+h+|a+h+|u+p+|e+u+p+|a+s+)|yessir")
NO = re.compile(r"n+o+|n+o+p+e*|n+a+h+|n+a+w+|n+a+y+")
# Acknowledgements: "ok", "okay", "kay", "alright", "aight" (judged weakly, like "fine").
OK = re.compile(r"o+k+(?:a+y+|e+y+|ie)?|k+a+y+|a+l+r+i+(?:g*h*t+e?)y?|a+i+g*h*t+")
# Hummed answers: "mm-hmm", "mhm", "uh-huh" agree; "uh-uh", "mm-mm", "nuh-uh" refuse (only
# with the hyphen: "uh uh" unhyphenated is a hesitation).
HUM_YES = re.compile(r"m+-?h+m+|u+h+-?h+u+h+")
HUM_NO = re.compile(r"(?:u+h+|m+|n+u+h+|u+n+h+|h+u+h+)-(?:u+h+|m+|u+n+h+)")
# A negator: "not", "never", "cannot" and every "n't" form, with or without the apostrophe.
NEGATOR = re.compile(
    r"not|never|cannot|\w+n't|(?:do|does|did|ca|can|wo|is|are|was|were|would|should|could"
    r"|have|has|had|need|must|ai)nt"
)
ASSENT = frozenset(
    """sure absolutely definitely certainly exactly indeed affirmative agreed agree surely
    totally precisely confirmed proceed of-course""".split()
)
# Adjectives that say yes only said of the proposal ("that's right", "correct"), not before
# a noun ("the right time").
ASSENT_ADJECTIVES = frozenset({"right", "correct"})
DISSENT = frozenset({"negative", "wrong", "incorrect"})
JUDGEMENTS = frozenset(
    """fine good great perfect excellent wonderful lovely awesome brilliant cool nice grand super
    ideal fantastic terrific""".split()
)
# What a negator turns into agreement ("no problem", "not a bother", "not bad").
PROBLEMS = frozenset(
    """problem problems prob probs worries bother trouble issue issues objection objections
    biggie bad complaints""".split()
)
KNOWING = frozenset({"sure", "certain", "know", "idea", "remember", "clue"})  # negated: a hedge
HEDGES = frozenset({"maybe", "perhaps", "possibly", "unsure", "dunno"})
OBJECTS = frozenset({"it", "that", "this", "them"})
SELF = frozenset({"i'm", "im", "i", "am", "we're"})  # "I'm good": about the caller, not a yes
FILLERS = frozenset("um uh er erm hmm hm mm ah oh well like just really then".split())
# Words after a judgement that keep it said of the proposal ("fine by me", "great, thanks").
AFTER_JUDGEMENT = frozenset(
    "for by with to me thanks then so and but please too actually though yes".split()
)
CONJUNCTIONS = frozenset({"but", "and", "or", "so", "though", "because", "cause"})
REPAIRS = frozenset({"wait", "actually", "sorry", "oops", "i-mean", "i-meant", "hold-on",
                      "hang-on", "scratch-that", "or-rather"})  # fmt: skip
HOLDS = frozenset({"wait", "hold-on", "hang-on"})  # said last: the caller is still deciding
WH = frozenset("what when which who whom whose where how why".split())
AUX = frozenset(
    """is are was were am do does did can could will would shall should have has isn't aren't
    don't doesn't didn't can't couldn't won't wouldn't""".split()
)
REQUESTS = frozenset({"can", "could", "would", "will"})  # "could you book it?" asks for it
LEADERS = frozenset({"right", "now", "so"})  # discourse words that may open a question
COPULAS = frozenset("is are was were sounds looks seems".split())
WHOLE = frozenset("that it this everything all".split())  # "that's right" is said of it all
PRONOUNS = frozenset("i you we it that this they he she".split())
SUBJECTS = frozenset("i you we it that this they he she there the my your".split())
PAIRS = {("all", "right"): "alright", ("of", "course"): "of-course", ("i", "mean"): "i-mean",
          ("i", "meant"): "i-meant", ("hold", "on"): "hold-on", ("hang", "on"): "hang-on",
          ("scratch", "that"): "scratch-that", ("or", "rather"): "or-rather",
          ("thank", "you"): "thanks"}  # fmt: skip
