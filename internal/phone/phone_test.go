package phone

import "testing"

func TestFormats(t *testing.T) {
	tests := []struct {
		name, in, e164, iot, yemot string
		iotID                      int
		iotErr                     bool
	}{
		{name: "japan mobile", in: "+81 80-4339-1234", e164: "+818043391234", iot: "08043391234", iotID: 1, yemot: "00818043391234"},
		{name: "israel mobile", in: "+972-52-234-5678", e164: "+972522345678", iotErr: true, yemot: "0522345678"},
		{name: "us", in: "+1 415 555 2671", e164: "+14155552671", iotErr: true, yemot: "0014155552671"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil || got != tt.e164 {
				t.Fatalf("Parse(%q) = %q, %v; want %q", tt.in, got, err, tt.e164)
			}
			tel, id, err := IoTCall(got, nil)
			if tt.iotErr {
				if err == nil {
					t.Fatalf("IoTCall(%q) = %q, %d; want an error", got, tel, id)
				}
			} else if err != nil || tel != tt.iot || id != tt.iotID {
				t.Fatalf("IoTCall(%q) = %q, %d, %v; want %q, %d", got, tel, id, err, tt.iot, tt.iotID)
			}
			y, err := Yemot(got)
			if err != nil || y != tt.yemot {
				t.Fatalf("Yemot(%q) = %q, %v; want %q", got, y, err, tt.yemot)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{"", "08043391234", "+81 12", "+999 123456", "call me"} {
		if got, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %q; want an error", in, got)
		}
	}
}
