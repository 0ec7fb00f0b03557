// Package phone parses phone numbers written in policies and formats them the
// way each provider's API wants them. It wraps github.com/nyaruka/phonenumbers
// (a port of Google's libphonenumber) so that the number rules of every
// country are not ours to maintain.
package phone

import (
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Parse reads a number in international form ("+81 80-4339-1234",
// "+972501234567") and returns it in E.164 ("+818043391234"). Numbers without
// a leading "+" are refused: a policy is read on servers whose locale says
// nothing about where the on-call person lives.
func Parse(s string) (string, error) {
	n, err := parse(s)
	if err != nil {
		return "", err
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

func parse(s string) (*phonenumbers.PhoneNumber, error) {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "+") {
		return nil, fmt.Errorf("phone number %q must be in international form, starting with + and the country code", s)
	}
	n, err := phonenumbers.Parse(t, "")
	if err != nil {
		return nil, fmt.Errorf("phone number %q cannot be parsed: %v", s, err)
	}
	if !phonenumbers.IsValidNumber(n) {
		return nil, fmt.Errorf("phone number %q is not a valid number for country code +%d", s, n.GetCountryCode())
	}
	return n, nil
}

// CountryCode returns the calling code of an E.164 number (81 for Japan).
func CountryCode(e164 string) (int, error) {
	n, err := parse(e164)
	if err != nil {
		return 0, err
	}
	return int(n.GetCountryCode()), nil
}

// DefaultIoTCallCountryIDs maps calling codes to IoTCall's
// international_prefix_id (the country's position in IoTCall's country list,
// from 1). The manual's example gives Japan as 1; other positions are not
// documented and must be configured (IOTCALL_COUNTRY_IDS).
var DefaultIoTCallCountryIDs = map[int]int{81: 1}

// IoTCall formats a number for IoTCall's call_to_tels[i][tel] and
// [international_prefix_id]: national digits with the trunk prefix and no
// hyphens ("08043391234"), and the country's list position from ids (nil:
// DefaultIoTCallCountryIDs).
func IoTCall(e164 string, ids map[int]int) (tel string, prefixID int, err error) {
	n, err := parse(e164)
	if err != nil {
		return "", 0, err
	}
	if ids == nil {
		ids = DefaultIoTCallCountryIDs
	}
	id, ok := ids[int(n.GetCountryCode())]
	if !ok {
		return "", 0, fmt.Errorf("IoTCall has no country id configured for +%d (set IOTCALL_COUNTRY_IDS, e.g. \"81=1\")", n.GetCountryCode())
	}
	return digits(phonenumbers.Format(n, phonenumbers.NATIONAL)), id, nil
}

// Yemot formats a number for Yemot's phones parameter. The manual's examples
// are Israeli numbers in national form ("0510000"), so Israeli numbers are sent
// as national digits ("0501234567"). The manual is silent on other countries;
// they are sent as dialled from Israel, with the international prefix 00
// ("0014155550100").
func Yemot(e164 string) (string, error) {
	n, err := parse(e164)
	if err != nil {
		return "", err
	}
	if n.GetCountryCode() == 972 {
		return digits(phonenumbers.Format(n, phonenumbers.NATIONAL)), nil
	}
	return "00" + digits(phonenumbers.Format(n, phonenumbers.E164)), nil
}

// CCAI formats a number for CCAI Platform's end_user_number: international
// form, E.164 ("+14155550100"), as the API reference's examples show.
func CCAI(e164 string) (string, error) {
	return Parse(e164)
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
