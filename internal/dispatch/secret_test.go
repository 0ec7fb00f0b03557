package dispatch

import "testing"

func TestRedactor(t *testing.T) {
	r := Redactor("MFhjVA==", "", "abc")
	if got := r("auth MFhjVA== abc"); got != "auth [REDACTED] abc" {
		t.Errorf("Redactor = %q", got)
	}
}
