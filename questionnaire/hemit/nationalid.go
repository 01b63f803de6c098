package hemit

import "fmt"

// The kinds of Norwegian national identity number that CheckNationalID
// tells apart.
const (
	Fodselsnummer = "fødselsnummer"
	DNummer       = "D-nummer"
	HNummer       = "H-nummer"  // a health-service number (month + 40): refused, as by HEMIT
	FHNummer      = "FH-nummer" // a helper number (first digit 8 or 9): refused, as by HEMIT
)

// NationalIDError says why a number is not a fødselsnummer or D-nummer. Its
// message is HEMIT's where HEMIT documents one (H- and FH-nummer).
type NationalIDError struct {
	Field string // the request field, e.g. "nationalId"
	Kind  string // HNummer or FHNummer when it is one of those; "" otherwise
	Why   string
}

func (e *NationalIDError) Error() string {
	if e.Kind != "" {
		return fmt.Sprintf("%s: %s is not supported as national ID. The national ID must be either Norsk fødselsnummer or D-nummer.", e.Field, e.Kind)
	}
	return fmt.Sprintf("%s: not a Norwegian fødselsnummer or D-nummer: %s.", e.Field, e.Why)
}

// CheckNationalID checks that s is a fødselsnummer or a D-nummer: eleven
// digits whose two check digits match (modulus 11), a day of the month
// (plus 40 in a D-nummer) and a month. H-nummer (month plus 40) and
// FH-nummer (first digit 8 or 9) are refused with HEMIT's messages. The
// months of synthetic test persons (plus 60 or 80, as the national
// population register's test environments give them) are accepted, so
// that a registry's test persons work; the check digits are what catches a
// mistyped number. It returns the kind of number, or a *NationalIDError
// that never repeats the number.
func CheckNationalID(field, s string) (kind string, err error) {
	if len(s) != 11 {
		return "", &NationalIDError{Field: field, Why: fmt.Sprintf("it has %d characters; it must be 11 digits", len([]rune(s)))}
	}
	var d [11]int
	for i := range 11 {
		if s[i] < '0' || s[i] > '9' {
			return "", &NationalIDError{Field: field, Why: "it must be 11 digits, with no spaces or other characters"}
		}
		d[i] = int(s[i] - '0')
	}
	if d[0] >= 8 {
		return "", &NationalIDError{Field: field, Kind: FHNummer}
	}
	if !checkDigitsMatch(d) {
		return "", &NationalIDError{Field: field, Why: "the check digits do not match; is a digit mistyped?"}
	}
	day, month := d[0]*10+d[1], d[2]*10+d[3]
	kind = Fodselsnummer
	if day > 40 {
		kind, day = DNummer, day-40
	}
	if month >= 41 && month <= 52 {
		return "", &NationalIDError{Field: field, Kind: HNummer}
	}
	switch {
	case month > 80:
		month -= 80 // a synthetic test person
	case month > 60:
		month -= 60 // a synthetic test person of an older test register
	}
	if day < 1 || day > 31 {
		return "", &NationalIDError{Field: field, Why: "the first two digits are not a day of a month"}
	}
	if month < 1 || month > 12 {
		return "", &NationalIDError{Field: field, Why: "digits 3 and 4 are not a month"}
	}
	return kind, nil
}

// checkDigitsMatch reports whether digits 10 and 11 are the modulus-11
// check digits of the first nine and ten.
func checkDigitsMatch(d [11]int) bool {
	control := func(weights []int) int {
		sum := 0
		for i, w := range weights {
			sum += w * d[i]
		}
		return (11 - sum%11) % 11 // 10 means no number has these digits
	}
	k1 := control([]int{3, 7, 6, 1, 8, 9, 4, 5, 2})
	k2 := control([]int{5, 4, 3, 2, 7, 6, 5, 4, 3, 2})
	return k1 < 10 && k2 < 10 && k1 == d[9] && k2 == d[10]
}
