"""The importer: every bad-row kind is reported with row and column; bad rows never drop or shift good ones."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from o2c_sim.data import invoice_table
from o2c_sim.cli import main
from o2c_sim.errors import UserError
from o2c_sim.data.importer import MAX_LISTED, default_quarantine_path, load_ledger, load_mapping

HEADER = ["invoice_id", "customer_id", "invoice_date", "due_date", "amount", "paid_date", "paid_amount", "disputed", "channel"]


def good_rows(n: int = 8) -> list[dict[str, str]]:
    """Canonical rows as text; ids with leading zeros, amounts 100.01, 100.02, … (so misalignment shows)."""
    rows = []
    for i in range(n):
        day = 1 + i % 27
        paid = i % 3 != 0
        rows.append({
            "invoice_id": f"{i:05d}", "customer_id": f"C{i % 3}", "invoice_date": f"2024-01-{day:02d}",
            "due_date": f"2024-02-{day:02d}", "amount": f"{100 + (i + 1) / 100:.2f}",
            "paid_date": f"2024-02-{min(day + 2, 28):02d}" if paid else "", "paid_amount": f"{100 + (i + 1) / 100:.2f}" if paid else "",
            "disputed": "yes" if i % 4 == 0 else "no", "channel": "paper" if i % 2 else "electronic",
        })
    return rows


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] = HEADER) -> Path:
    pd.DataFrame(rows, columns=header).to_csv(path, index=False)
    return path


# ----------------------------------------------------------------------------------------- bad rows

BAD_ROW_KINDS = {
    "unparseable date": ({"invoice_date": "2024-13-45"}, "invoice_date", "unparseable date"),
    "non-numeric amount": ({"amount": "12,50 EUR"}, "amount", "not a number"),
    "negative payment on an invoice": ({"paid_amount": "-5.00"}, "paid_amount", "negative paid_amount on an invoice"),
    "positive payment on a credit note": ({"paid_amount": "3.00", "amount": "-5.00"}, "paid_amount",
                                          "positive paid_amount on a credit note"),
    "due before invoice": ({"due_date": "2023-12-01"}, "due_date", "due date is before the invoice date"),
    "empty required value": ({"customer_id": ""}, "customer_id", "empty value; customer_id is required"),
    "empty invoice id": ({"invoice_id": ""}, "invoice_id", "empty value"),
    "paid more than amount": ({"paid_amount": "999.00"}, "paid_amount", "greater than the invoice amount"),
    "unknown mapped value": ({"disputed": "Maybe"}, "disputed", "unknown value"),
    "duplicate invoice id": ({"invoice_id": "00000"}, "invoice_id", "duplicate invoice id (first seen on row 2)"),
    "non-numeric paid amount": ({"paid_amount": "paid"}, "paid_amount", "not a number"),
}


@pytest.mark.parametrize("kind", list(BAD_ROW_KINDS))
def test_each_bad_row_kind_names_file_row_column_and_value(tmp_path, kind):
    change, column, message = BAD_ROW_KINDS[kind]
    rows = good_rows()
    rows[3].update(change)  # the 4th data row = row 5 in the file (header = row 1)
    path = write_csv(tmp_path / "ledger.csv", rows)
    with pytest.raises(UserError) as err:
        load_ledger(path)
    text = str(err.value)
    assert text.startswith(str(path))
    line = next(ln for ln in text.splitlines() if message in ln)
    assert f"row 5, column '{column}'" in line
    assert repr(next(iter(change.values()))) in line  # the value as found
    assert "1 of 8 rows" in text


def test_ragged_row_is_reported_and_quarantined_without_shifting(tmp_path):
    path = tmp_path / "ragged.csv"
    lines = [",".join(HEADER)] + [",".join(r.values()) for r in good_rows(5)]
    lines[3] += ",surplus"  # row 4
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=r"row 4: row has 10 values but the header has 9 columns"):
        load_ledger(path)
    table = load_ledger(path, on_error="quarantine")
    assert list(table["invoice_id"]) == ["00000", "00001", "00003", "00004"]


def test_blank_lines_do_not_shift_row_numbers(tmp_path):
    path = tmp_path / "blank.csv"
    lines = [",".join(HEADER)] + [",".join(r.values()) for r in good_rows(4)]
    lines.insert(2, "")  # a blank row 3
    lines[4] = lines[4].replace("2024-01-03", "someday")  # the third data row, now row 5
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=r"row 5, column 'invoice_date': unparseable date"):
        load_ledger(path)


def test_missing_required_column_is_named(tmp_path):
    path = write_csv(tmp_path / "nocust.csv", good_rows(), [c for c in HEADER if c != "customer_id"])
    with pytest.raises(UserError, match=r"missing column\(s\) 'customer_id'.*--mapping"):
        load_ledger(path, on_error="quarantine")  # a whole-file problem fails even when quarantining


@pytest.mark.parametrize("content, message", [("", "the file is empty"), (",".join(HEADER) + "\n", "no data rows"),
                                              (",".join(HEADER) + "\n,,,,,,,,\n\n", "no data rows")])
def test_empty_file_and_no_rows(tmp_path, content, message):
    path = tmp_path / "empty.csv"
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        load_ledger(path)


def test_file_not_found_and_wrong_encoding(tmp_path):
    with pytest.raises(UserError, match="file not found"):
        load_ledger(tmp_path / "nope.csv")
    path = tmp_path / "latin1.csv"
    path.write_bytes((",".join(HEADER) + "\n1,Müller,2024-01-01,2024-01-31,5,,,no,paper\n").encode("latin-1"))
    with pytest.raises(UserError, match="cannot be read as utf-8 text.*encoding"):
        load_ledger(path)


def test_mixed_currencies_need_a_rate(tmp_path):
    rows = [{**r, "currency": "EUR"} for r in good_rows(4)]
    rows[2]["currency"] = "USD"
    path = write_csv(tmp_path / "fx.csv", rows, HEADER + ["currency"])
    mapping = tmp_path / "fx.yaml"
    mapping.write_text("currency: {column: currency, ledger: EUR}\n")
    with pytest.raises(UserError, match=r"row 4, column 'currency': currency USD is not the ledger currency EUR and has no rate"):
        load_ledger(path, mapping)
    mapping.write_text("currency: {column: currency, ledger: EUR, rates: {USD: 0.5}}\n")
    table = load_ledger(path, mapping)
    assert table["amount"].tolist() == [100.01, 100.02, 50.02, 100.04]  # 100.03 USD × 0.5, rounded to cents


def test_error_listing_is_capped(tmp_path):
    rows = good_rows(40)
    for r in rows:
        r["amount"] = "n/a"
    path = write_csv(tmp_path / "many.csv", rows)
    with pytest.raises(UserError) as err:
        load_ledger(path)
    lines = str(err.value).splitlines()
    assert sum(ln.lstrip().startswith("row ") for ln in lines) == MAX_LISTED
    assert lines[-1].strip() == f"and {40 - MAX_LISTED} more"


# --------------------------------------------------------------------------------------- quarantine


def test_quarantine_keeps_every_good_row_aligned(tmp_path):
    rows = good_rows(10)
    rows[4]["amount"] = "=HYPERLINK(\"http://x\")"
    path = write_csv(tmp_path / "ledger.csv", rows)
    table = load_ledger(path, on_error="quarantine")
    expected = pd.DataFrame([r for i, r in enumerate(rows) if i != 4])
    assert table["invoice_id"].tolist() == expected["invoice_id"].tolist()
    assert table["amount"].tolist() == expected["amount"].astype(float).tolist()
    assert table["customer_id"].tolist() == expected["customer_id"].tolist()
    assert table.attrs["quarantined"] == 1
    target = default_quarantine_path(path)
    assert table.attrs["quarantine_path"] == str(target) and target.name == "ledger.quarantine.csv"
    bad = pd.read_csv(target, dtype=str, encoding="utf-8-sig")
    assert bad["row"].tolist() == ["6"] and bad["invoice_id"].tolist() == ["00004"]
    assert "amount: not a number" in bad["problem"].iloc[0]
    assert bad["amount"].iloc[0].startswith("'=")  # Excel shows it as text, never as a formula
    assert path.read_text().count("\n") == 11  # the input is untouched


def test_quarantine_never_overwrites_the_input(tmp_path):
    rows = good_rows(3)
    rows[1]["amount"] = "x"
    path = write_csv(tmp_path / "ledger.csv", rows)
    before = path.read_bytes()
    with pytest.raises(UserError, match="would overwrite the input"):
        load_ledger(path, on_error="quarantine", quarantine_path=path)
    assert path.read_bytes() == before


BAD_VALUES = [("amount", "abc"), ("invoice_date", "31/31/2024"), ("customer_id", ""), ("disputed", "perhaps"),
              ("paid_amount", "-1"), ("due_date", "2020-01-01")]


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 25), data=st.data())
def test_any_bad_rows_leave_the_good_rows_intact(n, data):
    bad = data.draw(st.sets(st.integers(0, n - 1), max_size=n - 1))
    rows = good_rows(n)
    for i in bad:
        column, value = data.draw(st.sampled_from(BAD_VALUES))
        rows[i][column] = value
    with tempfile.TemporaryDirectory() as tmp:
        path = write_csv(Path(tmp) / "l.csv", rows)
        table = load_ledger(path, on_error="quarantine")
        good = [r for i, r in enumerate(rows) if i not in bad]
        assert table["invoice_id"].tolist() == [r["invoice_id"] for r in good]
        assert table["amount"].tolist() == [float(r["amount"]) for r in good]
        assert table["due_date"].dt.strftime("%Y-%m-%d").tolist() == [r["due_date"] for r in good]
        if bad:
            quarantined = pd.read_csv(table.attrs["quarantine_path"], dtype=str, encoding="utf-8-sig")
            assert quarantined["row"].astype(int).tolist() == sorted(i + 2 for i in bad)


# ---------------------------------------------------------------------------------- formats, mapping


@pytest.fixture
def canonical() -> pd.DataFrame:
    return load_ledger(write_csv(Path(tempfile.mkdtemp()) / "c.csv", good_rows(12)))


def test_canonical_csv_needs_no_mapping(canonical):
    assert list(canonical.columns) == [c for c in invoice_table.COLUMNS if c in HEADER]
    assert canonical["invoice_id"].iloc[1] == "00001"
    assert canonical["disputed"].dtype == bool and canonical["disputed"].sum() == 3
    assert canonical["paid_date"].isna().sum() == 4
    assert (canonical.loc[canonical["paid_date"].isna(), "paid_amount"] == 0).all()


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet"])
def test_round_trip(tmp_path, canonical, suffix):
    path = tmp_path / f"ledger{suffix}"
    out = canonical.copy()
    if suffix == ".csv":
        out.to_csv(path, index=False, date_format="%Y-%m-%d")
    elif suffix == ".xlsx":
        out.to_excel(path, index=False)
    else:
        out.to_parquet(path, index=False)
    back = load_ledger(path)
    pd.testing.assert_frame_equal(back, canonical, check_dtype=False)
    assert back["invoice_id"].iloc[0] == "00000"


def test_xlsx_row_numbers_are_the_sheet_rows(tmp_path):
    rows = good_rows(5)
    rows[2]["due_date"] = "soon"
    path = tmp_path / "l.xlsx"
    pd.DataFrame(rows).to_excel(path, index=False)
    with pytest.raises(UserError, match=r"row 4, column 'due_date': unparseable date"):
        load_ledger(path)


def test_mapping_rejects_unknown_keys_and_bare_yes(tmp_path):
    m = tmp_path / "m.yaml"
    m.write_text("columns: {invoice_id: Nr}\ndate_fromat: '%d.%m.%Y'\n")
    with pytest.raises(UserError, match=r"m.yaml: field 'date_fromat': unknown key"):
        load_mapping(m)
    m.write_text("values: {disputed: {Yes: true, No: false}}\n")
    with pytest.raises(UserError, match="quote it"):
        load_mapping(m)
    m.write_text("columns: {invoice_number: Nr}\n")
    with pytest.raises(UserError, match="unknown canonical column"):
        load_mapping(m)


def test_mapping_renames_and_maps_values(tmp_path):
    src = pd.DataFrame({"Nr": ["007", "008"], "Kunde": ["A", "B"], "Datum": ["31.01.2024", "01.02.2024"],
                        "Faellig": ["01.03.2024", "02.03.2024"], "Betrag": ["10.5", "20"], "Strittig": ["J", "N"]})
    path = tmp_path / "erp.csv"
    src.to_csv(path, index=False)
    m = tmp_path / "erp.yaml"
    m.write_text("columns: {invoice_id: Nr, customer_id: Kunde, invoice_date: Datum, due_date: Faellig, amount: Betrag,"
                 " disputed: Strittig}\ndate_formats: ['%d.%m.%Y']\nvalues: {disputed: {'J': true, 'N': false}}\n")
    table = load_ledger(path, m)
    assert table["invoice_id"].tolist() == ["007", "008"]
    assert table["invoice_date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-31", "2024-02-01"]
    assert table["disputed"].tolist() == [True, False]
    src.loc[1, "Strittig"] = "vielleicht"
    src.to_csv(path, index=False)
    with pytest.raises(UserError, match=r"row 3, column 'Strittig': unknown value; expected one of 'J', 'N'"):
        load_ledger(path, m)


# --------------------------------------------------------------------------------------- IBM sample


def test_ibm_sample_loads(ibm_csv):
    table = load_ledger(ibm_csv, "ibm_ar")
    assert len(table) == 2466
    assert table["customer_id"].nunique() == 100
    assert table["invoice_id"].is_unique
    assert table["invoice_id"].str.len().eq(10).all()  # zero-padded to ten digits
    assert table["invoice_id"].str.startswith("0").sum() > 200
    assert "0000611365" in set(table["invoice_id"])
    assert (table["paid_amount"] == table["amount"]).all()
    assert table["paid_date"].notna().all()
    assert round(table["disputed"].mean(), 3) == 0.227
    assert table["channel"].value_counts().to_dict() == {"paper": 1263, "electronic": 1203}
    late = (table["paid_date"] > table["due_date"]).mean()
    assert round(late, 3) == 0.356


# ----------------------------------------------------------------------------------------------- CLI


def test_cli_validate_problems_exit_2_without_traceback(tmp_path, capsys):
    rows = good_rows()
    rows[2]["invoice_date"] = "yesterday"
    path = write_csv(tmp_path / "ledger.csv", rows)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "row 4, column 'invoice_date': unparseable date" in err and "Traceback" not in err


def test_cli_validate_summary_and_quarantine(tmp_path, capsys):
    rows = good_rows()
    path = write_csv(tmp_path / "ledger.csv", rows)
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "8 invoices, 3 customers" in out and "open items     3" in out and "disputed       25.0%" in out
    rows[0]["amount"] = "x"
    write_csv(path, rows)
    target = tmp_path / "bad rows.csv"
    assert main(["validate", str(path), "--quarantine", str(target)]) == 0
    assert "1 bad row(s) written to" in capsys.readouterr().out and target.exists()
    assert main(["validate", str(path), "--quarantine"]) == 0
    assert default_quarantine_path(path).exists()


def test_cli_validate_mapping_errors_exit_2(tmp_path, capsys):
    path = write_csv(tmp_path / "ledger.csv", good_rows())
    assert main(["validate", str(path), "--mapping", str(tmp_path / "missing.yaml")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_cli_validate_ibm(ibm_csv, capsys):
    assert main(["validate", str(ibm_csv), "--mapping", "ibm_ar"]) == 0
    out = capsys.readouterr().out
    assert "2,466 invoices, 100 customers" in out and "2012-01-03 .. 2013-12-02" in out
    assert main(["validate", str(ibm_csv)]) == 2
    assert "--mapping" in capsys.readouterr().err
