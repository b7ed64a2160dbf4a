from augment.words import is_eligible, match_case, normalize, render, split_words


def test_split_words_keeps_offsets_into_the_original_text():
    text = "How can  anyone drive such a small car?"
    words = split_words(text)
    assert [w.text for w in words] == [
        "How",
        "can",
        "anyone",
        "drive",
        "such",
        "a",
        "small",
        "car",
        "?",
    ]
    assert all(text[w.start : w.end] == w.text for w in words)
    assert words[0].normalized == "how"


def test_normalize_lowercases_and_strips_accents():
    assert normalize("Café") == "cafe"


def test_eligibility_is_ascii_letters_and_not_a_stopword():
    words = {w.text: is_eligible(w) for w in split_words("The café sold 2 e-mail drinks quickly")}
    assert words == {
        "The": False,
        "café": True,
        "sold": True,
        "2": False,
        "e": True,
        "-": False,
        "mail": True,
        "drinks": True,
        "quickly": True,
    }


def test_match_case_follows_the_original_word():
    assert match_case("vehicle", "Car") == "Vehicle"
    assert match_case("vehicle", "CAR") == "VEHICLE"
    assert match_case("vehicle", "car") == "vehicle"
    assert match_case("vehicle", "I") == "Vehicle"


def test_render_keeps_spacing_and_casing_outside_replaced_words():
    text = "How can  anyone drive such a Small car?"
    words = split_words(text)
    replaced = render(text, words, {3: "ride", 6: "big"}, lowercase=False)
    assert replaced == "How can  anyone ride such a Big car?"
    assert render(text, words, {}, lowercase=False) == text


def test_render_lowercase_gives_the_official_basic_tokenized_form():
    text = "How can  anyone drive such a Small car?"
    words = split_words(text)
    assert (
        render(text, words, {3: "ride"}, lowercase=True) == "how can anyone ride such a small car ?"
    )
