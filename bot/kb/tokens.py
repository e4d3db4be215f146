"""Words to index terms: case-folded, stop words dropped, stemmed in the text's language. Pure.

Stemming ("uploading", "uploaded" -> "upload") is what lets a customer's wording meet an
article's; snowballstemmer is the Snowball project's own pure-Python build (as used by Sphinx's
search), with stemmers for the common help-center languages.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"\w+(?:[.'’]\w+)*", re.UNICODE)

# ISO 639-1 -> Snowball algorithm. Languages without a stemmer are indexed unstemmed.
STEMMERS = {
    "en": "english", "de": "german", "fr": "french", "es": "spanish", "it": "italian",
    "pt": "portuguese", "nl": "dutch", "sv": "swedish", "da": "danish", "no": "norwegian",
    "nb": "norwegian", "fi": "finnish", "ru": "russian", "tr": "turkish", "ro": "romanian",
    "hu": "hungarian", "pl": "polish", "ca": "catalan", "el": "greek", "id": "indonesian",
}

# Only words so common they carry nothing; IDF handles the rest.
_STOP = {
    "en": set(
        [
            "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as",
            "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can",
            "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further",
            "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his",
            "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my",
            "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our",
            "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than",
            "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this",
            "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what",
            "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your",
            "yours", "yourself", "yourselves", "hi", "hello", "thanks", "thank", "please", "regards", "dear"
        ]
    ),
}


def language_of(locale: str | None, default: str = "en") -> str:
    """`en-us` -> `en`; empty -> the default."""
    if not locale:
        return default
    return locale.replace("_", "-").split("-")[0].lower() or default


@lru_cache(maxsize=32)
def _stemmer(language: str):
    algorithm = STEMMERS.get(language)
    return snowballstemmer.stemmer(algorithm) if algorithm else None


def tokenize(text: str, language: str = "en", keep_stop_words: bool = False) -> list[str]:
    words = _WORD.findall(unicodedata.normalize("NFKC", text).casefold())
    stop = () if keep_stop_words else _STOP.get(language, ())
    words = [w.replace("’", "'") for w in words if w not in stop and not (len(w) == 1 and not w.isdigit())]
    stemmer = _stemmer(language)
    if stemmer is None:
        return words
    cache = _STEMS.setdefault(language, {})
    out = []
    for word in words:
        stem = cache.get(word)
        if stem is None:
            stem = cache[word] = stemmer.stemWord(word)
        out.append(stem)
    if len(cache) > 200_000:  # bounded: a stream of unique tokens must not grow it forever
        cache.clear()
    return out


_STEMS: dict[str, dict[str, str]] = {}
