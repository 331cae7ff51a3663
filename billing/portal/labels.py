"""The portal's own words in the four languages of the documents (hu, ro, en, de)."""
from __future__ import annotations

_WORDS = ("portal_title documents statements kind number issue_date due_date amount status download "
          "pay_by_card no_documents no_statements balance closing_balance month remaining access "
          "proforma invoice credit_note paid open overdue void refunded partially_refunded issued "
          "full limited suspended closed link_valid_until period payments charges refunds correction").split()

_TEXT = {
    "hu": ("Ügyfélportál|Bizonylatok|Havi egyenlegközlők|Típus|Sorszám|Kiállítva|Fizetési határidő|Összeg|"
           "Állapot|PDF letöltése|Fizetés bankkártyával|Még nincs bizonylat.|Még nincs egyenlegközlő.|"
           "Egyenleg|Záró egyenleg|Hónap|Hátralék|Hozzáférés|Díjbekérő|Számla|Jóváíró számla|Fizetve|"
           "Nyitott|Lejárt|Érvénytelen|Visszatérítve|Részben visszatérítve|Kiállítva|Teljes|Korlátozott|"
           "Felfüggesztve|Lezárva|A link érvényes eddig|Időszak|Befizetések|Díjak|Visszatérítések|Módosító számla (adatjavítás)"),
    "ro": ("Portal client|Documente|Extrase lunare|Tip|Număr|Emis la|Termen de plată|Sumă|Stare|"
           "Descarcă PDF|Plătește cu cardul|Nu există încă documente.|Nu există încă extrase.|Sold|"
           "Sold final|Luna|Rest de plată|Acces|Factură proformă|Factură|Factură de corecție|Plătită|"
           "Deschisă|Restantă|Anulată|Rambursată|Rambursată parțial|Emisă|Complet|Limitat|Suspendat|"
           "Închis|Link valabil până la|Perioada|Plăți|Taxe|Rambursări|Factură de corecție (date)"),
    "en": ("Customer portal|Documents|Monthly statements|Type|Number|Issued|Due|Amount|Status|"
           "Download PDF|Pay by card|No documents yet.|No statements yet.|Balance|Closing balance|Month|"
           "Remaining|Access|Proforma|Invoice|Credit note|Paid|Open|Overdue|Void|Refunded|"
           "Partially refunded|Issued|Full|Limited|Suspended|Closed|Link valid until|Period|Payments|Charges|Refunds|"
           "Correction"),
    "de": ("Kundenportal|Belege|Monatsauszüge|Art|Nummer|Ausgestellt|Fällig am|Betrag|Status|"
           "PDF herunterladen|Mit Karte bezahlen|Noch keine Belege.|Noch keine Auszüge.|Saldo|Endsaldo|"
           "Monat|Offener Betrag|Zugang|Proforma-Rechnung|Rechnung|Rechnungskorrektur|Bezahlt|Offen|"
           "Überfällig|Ungültig|Erstattet|Teilweise erstattet|Ausgestellt|Voll|Eingeschränkt|Gesperrt|"
           "Geschlossen|Link gültig bis|Zeitraum|Zahlungen|Gebühren|Erstattungen|Rechnungsberichtigung"),
}

LABELS = {lang: dict(zip(_WORDS, text.split("|"), strict=True)) for lang, text in _TEXT.items()}
LOCALES = tuple(LABELS)


def labels(locale: str) -> dict[str, str]:
    return LABELS.get(locale, LABELS["en"])
