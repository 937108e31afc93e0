"""The school directory: a UDISE code to the school's place in the twin's columns."""

from tests.fixtures.builders import small_directory


def test_an_id_that_is_no_school_is_unknown_however_it_is_written():
    directory, _ = small_directory()
    known = f"{int(directory.school_ids[3]):011d}"
    assert directory.index(known) == 3 and directory.index(int(known)) == 3
    for unknown in ("33999999999", "not-a-number", "", "9" * 30, "-" + "9" * 30):  # past int64 too
        assert directory.index(unknown) == -1, unknown
