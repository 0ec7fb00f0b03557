package dispatch

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/escalator-oss/escalator/internal/phone"
)

// Default provider base URLs.
const (
	DefaultIoTCallBaseURL = "https://sys.iotcall.jp"
	DefaultYemotBaseURL   = "https://www.call2all.co.il/ym/api"
)

// Env is the providers' configuration read from the environment. Its
// secrets never print: String, GoString and MarshalJSON redact them.
type Env struct {
	IoTCallAuthCode   Secret
	IoTCallBaseURL    string
	IoTCallCountryIDs map[int]int

	// YemotToken is "<system number>:<password>" or a session token.
	YemotToken    Secret
	YemotUsername string
	YemotPassword Secret
	YemotBaseURL  string

	// CCAICompanyKey and CCAICompanySecret are the HTTP Basic user and
	// password: the company key and secret on older accounts, the API
	// credentials from Settings > Developer Settings on current ones.
	CCAICompanyKey    Secret
	CCAICompanySecret Secret
	// CCAIBaseURL is https://<subdomain>.<domain>; there is no default.
	CCAIBaseURL string

	// YemotCheckAnswered and CCAICheckAnswered turn on asking the provider
	// whether a call was answered (YEMOT_CHECK_ANSWERED: GetCampaignStatus;
	// CCAI_CHECK_ANSWERED: the Manager API's call list). Off by default:
	// both are beyond the providers' call manuals.
	YemotCheckAnswered bool
	CCAICheckAnswered  bool
}

// LoadEnv reads the providers' configuration through getenv (os.Getenv in
// production). Every credential may instead be given in a file named by
// <NAME>_FILE (its content, trimmed); setting both is an error. All problems
// are reported at once.
func LoadEnv(getenv func(string) string) (Env, error) {
	var errs []error
	secret := func(name string) Secret {
		v, err := fromEnvOrFile(getenv, name)
		if err != nil {
			errs = append(errs, err)
		}
		return Secret(v)
	}
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return strings.TrimRight(v, "/")
	}
	e := Env{
		IoTCallAuthCode:   secret("IOTCALL_AUTH_CODE"),
		IoTCallBaseURL:    or(getenv("IOTCALL_BASE_URL"), DefaultIoTCallBaseURL),
		YemotToken:        secret("YEMOT_TOKEN"),
		YemotUsername:     string(secret("YEMOT_USERNAME")),
		YemotPassword:     secret("YEMOT_PASSWORD"),
		YemotBaseURL:      or(getenv("YEMOT_BASE_URL"), DefaultYemotBaseURL),
		CCAICompanyKey:    secret("CCAI_COMPANY_KEY"),
		CCAICompanySecret: secret("CCAI_COMPANY_SECRET"),
		CCAIBaseURL:       or(getenv("CCAI_BASE_URL"), ""),
	}
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"YEMOT_CHECK_ANSWERED", &e.YemotCheckAnswered}, {"CCAI_CHECK_ANSWERED", &e.CCAICheckAnswered}} {
		if v := strings.TrimSpace(getenv(b.name)); v != "" {
			on, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("load environment: %s must be true or false, got %q", b.name, v))
			}
			*b.dst = on
		}
	}
	ids, err := ParseCountryIDs(getenv("IOTCALL_COUNTRY_IDS"))
	if err != nil {
		errs = append(errs, err)
	}
	e.IoTCallCountryIDs = ids
	if (e.YemotUsername == "") != (e.YemotPassword == "") {
		errs = append(errs, errors.New("load environment: YEMOT_USERNAME and YEMOT_PASSWORD must be set together"))
	}
	if (e.CCAICompanyKey == "") != (e.CCAICompanySecret == "") {
		errs = append(errs, errors.New("load environment: CCAI_COMPANY_KEY and CCAI_COMPANY_SECRET must be set together"))
	}
	return e, errors.Join(errs...)
}

func fromEnvOrFile(getenv func(string) string, name string) (string, error) {
	v, file := getenv(name), getenv(name+"_FILE")
	switch {
	case v != "" && file != "":
		return "", fmt.Errorf("load environment: both %s and %s_FILE are set; set one", name, name)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			// The path is not secret; the content never reaches this error.
			return "", fmt.Errorf("load environment: read %s_FILE: %w", name, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return strings.TrimSpace(v), nil
}

// ParseCountryIDs reads IOTCALL_COUNTRY_IDS: "81=1,1=2" maps calling codes
// to IoTCall's international_prefix_id. Empty gives
// phone.DefaultIoTCallCountryIDs (Japan = 1, the manual's example).
func ParseCountryIDs(s string) (map[int]int, error) {
	if strings.TrimSpace(s) == "" {
		out := make(map[int]int, len(phone.DefaultIoTCallCountryIDs))
		for k, v := range phone.DefaultIoTCallCountryIDs {
			out[k] = v
		}
		return out, nil
	}
	out := make(map[int]int)
	for _, pair := range strings.Split(s, ",") {
		code, id, ok := strings.Cut(strings.TrimSpace(pair), "=")
		c, err1 := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(code), "+"))
		i, err2 := strconv.Atoi(strings.TrimSpace(id))
		if !ok || err1 != nil || err2 != nil || c < 1 || i < 1 {
			return nil, fmt.Errorf("parse IOTCALL_COUNTRY_IDS: %q is not <calling code>=<list position from 1>, e.g. \"81=1\"", pair)
		}
		out[c] = i
	}
	return out, nil
}

// Configured reports whether provider (IoTCall, Yemot or CCAI) has the
// credentials and base URL it needs.
func (e Env) Configured(provider string) bool {
	switch provider {
	case IoTCall:
		return e.IoTCallAuthCode != "" && e.IoTCallBaseURL != ""
	case Yemot:
		return (e.YemotToken != "" || (e.YemotUsername != "" && e.YemotPassword != "")) && e.YemotBaseURL != ""
	case CCAI:
		return e.CCAICompanyKey != "" && e.CCAICompanySecret != "" && e.CCAIBaseURL != ""
	}
	return false
}

// Secrets returns every credential set, for a Redactor.
func (e Env) Secrets() []string {
	var out []string
	for _, s := range []Secret{e.IoTCallAuthCode, e.YemotToken, e.YemotPassword, e.CCAICompanyKey, e.CCAICompanySecret} {
		if s != "" {
			out = append(out, s.Reveal())
		}
	}
	return out
}

// envView is what Env shows of itself.
type envView struct {
	IoTCallAuthCode   string      `json:"iotcall_auth_code,omitempty"`
	IoTCallBaseURL    string      `json:"iotcall_base_url"`
	IoTCallCountryIDs map[int]int `json:"iotcall_country_ids,omitempty"`
	YemotToken        string      `json:"yemot_token,omitempty"`
	YemotUsername     string      `json:"yemot_username,omitempty"`
	YemotPassword     string      `json:"yemot_password,omitempty"`
	YemotBaseURL      string      `json:"yemot_base_url"`
	CCAICompanyKey    string      `json:"ccai_company_key,omitempty"`
	CCAICompanySecret string      `json:"ccai_company_secret,omitempty"`
	CCAIBaseURL       string      `json:"ccai_base_url,omitempty"`
}

func (e Env) view() envView {
	return envView{
		IoTCallAuthCode: e.IoTCallAuthCode.String(), IoTCallBaseURL: e.IoTCallBaseURL,
		IoTCallCountryIDs: e.IoTCallCountryIDs,
		YemotToken:        e.YemotToken.String(), YemotUsername: e.YemotUsername,
		YemotPassword: e.YemotPassword.String(), YemotBaseURL: e.YemotBaseURL,
		CCAICompanyKey: e.CCAICompanyKey.String(), CCAICompanySecret: e.CCAICompanySecret.String(),
		CCAIBaseURL: e.CCAIBaseURL,
	}
}

// String describes the configuration with its secrets redacted.
func (e Env) String() string {
	v := e.view()
	codes := make([]int, 0, len(v.IoTCallCountryIDs))
	for c := range v.IoTCallCountryIDs {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	ids := make([]string, len(codes))
	for i, c := range codes {
		ids[i] = fmt.Sprintf("%d=%d", c, v.IoTCallCountryIDs[c])
	}
	return fmt.Sprintf("iotcall{auth_code=%s base_url=%s country_ids=%s} yemot{token=%s username=%s password=%s base_url=%s} ccai{company_key=%s company_secret=%s base_url=%s}",
		v.IoTCallAuthCode, v.IoTCallBaseURL, strings.Join(ids, ","), v.YemotToken, v.YemotUsername,
		v.YemotPassword, v.YemotBaseURL, v.CCAICompanyKey, v.CCAICompanySecret, v.CCAIBaseURL)
}

// GoString is String, so that %#v redacts too.
func (e Env) GoString() string { return "dispatch.Env{" + e.String() + "}" }

// MarshalJSON encodes the configuration with its secrets redacted.
func (e Env) MarshalJSON() ([]byte, error) { return json.Marshal(e.view()) }
