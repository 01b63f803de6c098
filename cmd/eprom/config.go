package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"eprom/questionnaire"
	"eprom/store"
	"eprom/web"
)

// Config is the configuration of `eprom serve`. Each field is a flag and an
// environment variable (DESIGN.md §9); a flag wins over the environment,
// which wins over the default.
type Config struct {
	Addr              string // EPROM_ADDR
	Data              string // EPROM_DATA
	Store             string // EPROM_STORE: "bolt", or redis://host:port/db
	PublicURL         string // EPROM_PUBLIC_URL
	APITokens         string // EPROM_API_TOKENS: name:token pairs, comma-separated
	APITokensFile     string // EPROM_API_TOKENS_FILE: one pair a line
	ClientsFile       string // EPROM_CLIENTS_FILE: the ordering systems, JSON (DESIGN.md §9)
	RegistryURL       string // EPROM_REGISTRY_URL: empty means pull only
	RegistryToken     string // EPROM_REGISTRY_TOKEN
	RegistryTokenFile string // EPROM_REGISTRY_TOKEN_FILE
	Schemas           string // EPROM_SCHEMAS: a folder of extra definitions
	TrustedProxies    string // EPROM_TRUSTED_PROXIES: CIDRs, comma-separated
	SecretFile        string // EPROM_SECRET_FILE
	SigningKeysFile   string // EPROM_SIGNING_KEYS_FILE
	DeliveryBackoff   string // EPROM_DELIVERY_MAX_BACKOFF: the longest wait between two tries of one envelope
	DeliveryWorkers   string // EPROM_DELIVERY_CONCURRENCY: deliveries in flight at once
	DeliveryTimeout   string // EPROM_DELIVERY_TIMEOUT: how long one delivery attempt may take
	SweepInterval     string // EPROM_SWEEP_INTERVAL: how often expiry, purges and recovery run

	demo       bool                 // eprom demo: a DEMO banner on every page
	demoHemit  *questionnaire.Hemit // eprom demo: the HEMIT side of the one client
	demoClinic *web.DemoClinic      // eprom demo: the training patient page's way to the API
	maxBackoff time.Duration        // DeliveryBackoff, parsed
	workers    int                  // DeliveryWorkers, parsed
	attemptTTL time.Duration        // DeliveryTimeout, parsed
	sweepEvery time.Duration        // SweepInterval, parsed
}

// DefaultConfig returns the defaults of DESIGN.md §9.
func DefaultConfig() Config {
	return Config{
		Addr:            "127.0.0.1:8080",
		Data:            "./data",
		Store:           "bolt",
		PublicURL:       "http://localhost:8080",
		DeliveryBackoff: "5m",
		DeliveryWorkers: "4",
		DeliveryTimeout: "10s",
		SweepInterval:   "30s",
	}
}

// setting ties a field to its flag and environment variable.
type setting struct {
	flag, env, usage string
	field            func(*Config) *string
}

var settings = []setting{
	{"addr", "EPROM_ADDR", "address to listen on", func(c *Config) *string { return &c.Addr }},
	{"data", "EPROM_DATA", "data folder (bbolt file, generated secrets, audit log)", func(c *Config) *string { return &c.Data }},
	{"store", "EPROM_STORE", `"bolt", or redis://host:port/db`, func(c *Config) *string { return &c.Store }},
	{"public-url", "EPROM_PUBLIC_URL", "the address patients use; codes open {public-url}/c/{CODE}", func(c *Config) *string { return &c.PublicURL }},
	{"api-tokens", "EPROM_API_TOKENS", "API tokens as name:token pairs, comma-separated", func(c *Config) *string { return &c.APITokens }},
	{"api-tokens-file", "EPROM_API_TOKENS_FILE", "file of API tokens, one name:token a line", func(c *Config) *string { return &c.APITokensFile }},
	{"clients-file", "EPROM_CLIENTS_FILE", "JSON file of the ordering systems, each with its tokens and registry; re-read on SIGHUP", func(c *Config) *string { return &c.ClientsFile }},
	{"registry-url", "EPROM_REGISTRY_URL", "where signed submissions are pushed; empty: pull only", func(c *Config) *string { return &c.RegistryURL }},
	{"registry-token", "EPROM_REGISTRY_TOKEN", "bearer token for the registry", func(c *Config) *string { return &c.RegistryToken }},
	{"registry-token-file", "EPROM_REGISTRY_TOKEN_FILE", "file holding the registry token", func(c *Config) *string { return &c.RegistryTokenFile }},
	{"schemas", "EPROM_SCHEMAS", "folder of extra questionnaire definitions", func(c *Config) *string { return &c.Schemas }},
	{"trusted-proxies", "EPROM_TRUSTED_PROXIES", "CIDRs of proxies whose X-Forwarded-For counts, comma-separated", func(c *Config) *string { return &c.TrustedProxies }},
	{"secret-file", "EPROM_SECRET_FILE", "file of 32+ random bytes for codes (default: generated in the data folder)", func(c *Config) *string { return &c.SecretFile }},
	{"signing-keys-file", "EPROM_SIGNING_KEYS_FILE", "PEM file of Ed25519 signing keys (default: generated in the data folder)", func(c *Config) *string { return &c.SigningKeysFile }},
	{"delivery-max-backoff", "EPROM_DELIVERY_MAX_BACKOFF", "longest wait between two tries to deliver one envelope", func(c *Config) *string { return &c.DeliveryBackoff }},
	{"delivery-concurrency", "EPROM_DELIVERY_CONCURRENCY", "envelopes delivered at once", func(c *Config) *string { return &c.DeliveryWorkers }},
	{"delivery-timeout", "EPROM_DELIVERY_TIMEOUT", "how long one delivery attempt may take before it is retried", func(c *Config) *string { return &c.DeliveryTimeout }},
	{"sweep-interval", "EPROM_SWEEP_INTERVAL", "how often orders are expired and old data purged", func(c *Config) *string { return &c.SweepInterval }},
}

// parseConfig reads flags over the environment over the defaults, then
// checks the result. Its errors are one line, naming the setting.
func parseConfig(name string, args []string, getenv func(string) string, usageOut io.Writer) (Config, error) {
	cfg := DefaultConfig()
	for _, s := range settings {
		if v := getenv(s.env); v != "" {
			*s.field(&cfg) = v
		}
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(usageOut)
	for _, s := range settings {
		fs.StringVar(s.field(&cfg), s.flag, *s.field(&cfg), s.usage+" ("+s.env+")")
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return cfg, cfg.check()
}

// check finds what would fail later, and says it in one line.
func (c *Config) check() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("EPROM_ADDR: %q is not host:port", c.Addr)
	}
	if c.Data == "" {
		return errors.New("EPROM_DATA: the data folder must be set")
	}
	if c.Store != "bolt" && !strings.HasPrefix(c.Store, "redis://") && !strings.HasPrefix(c.Store, "rediss://") {
		return fmt.Errorf("EPROM_STORE: %q is neither bolt nor a redis://host:port/db URL", redacted(c.Store))
	}
	if c.APITokens != "" && c.APITokensFile != "" {
		return errors.New("EPROM_API_TOKENS and EPROM_API_TOKENS_FILE are both set; use one")
	}
	if c.ClientsFile != "" {
		for _, other := range []struct{ name, value string }{
			{"EPROM_API_TOKENS", c.APITokens}, {"EPROM_API_TOKENS_FILE", c.APITokensFile},
			{"EPROM_REGISTRY_URL", c.RegistryURL}, {"EPROM_REGISTRY_TOKEN", c.RegistryToken}, {"EPROM_REGISTRY_TOKEN_FILE", c.RegistryTokenFile},
		} {
			if other.value != "" {
				return fmt.Errorf("EPROM_CLIENTS_FILE and %s are both set; the clients file gives every client its tokens and registry, so use one", other.name)
			}
		}
	} else if c.APITokens == "" && c.APITokensFile == "" {
		return errors.New("EPROM_API_TOKENS: no API token; set EPROM_CLIENTS_FILE, or EPROM_API_TOKENS=name:token (or EPROM_API_TOKENS_FILE) for one client")
	}
	if c.RegistryToken != "" && c.RegistryTokenFile != "" {
		return errors.New("EPROM_REGISTRY_TOKEN and EPROM_REGISTRY_TOKEN_FILE are both set; use one")
	}
	d, err := time.ParseDuration(c.DeliveryBackoff)
	if err != nil || d < time.Second || d > 24*time.Hour {
		return fmt.Errorf("EPROM_DELIVERY_MAX_BACKOFF: %q is not a duration from 1s to 24h, such as 5m", c.DeliveryBackoff)
	}
	c.maxBackoff = d
	n, err := strconv.Atoi(c.DeliveryWorkers)
	if err != nil || n < 1 || n > 64 {
		return fmt.Errorf("EPROM_DELIVERY_CONCURRENCY: %q is not a whole number from 1 to 64", c.DeliveryWorkers)
	}
	c.workers = n
	if c.attemptTTL, err = time.ParseDuration(c.DeliveryTimeout); err != nil || c.attemptTTL < 100*time.Millisecond || c.attemptTTL > 10*time.Minute {
		return fmt.Errorf("EPROM_DELIVERY_TIMEOUT: %q is not a duration from 100ms to 10m, such as 10s", c.DeliveryTimeout)
	}
	sw, err := time.ParseDuration(c.SweepInterval)
	if err != nil || sw < 100*time.Millisecond || sw > time.Hour {
		return fmt.Errorf("EPROM_SWEEP_INTERVAL: %q is not a duration from 100ms to 1h, such as 30s", c.SweepInterval)
	}
	c.sweepEvery = sw
	if c.RegistryURL != "" {
		u, err := url.Parse(c.RegistryURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("EPROM_REGISTRY_URL: %q is not an http(s) URL", c.RegistryURL)
		}
	}
	for _, cidr := range splitList(c.TrustedProxies) {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			if net.ParseIP(cidr) == nil {
				return fmt.Errorf("EPROM_TRUSTED_PROXIES: %q is not a CIDR such as 10.0.0.0/8", cidr)
			}
		}
	}
	return nil
}

// loadClients reads the ordering systems: the clients file, or the one
// client "default" of EPROM_API_TOKENS and EPROM_REGISTRY_URL.
func (c *Config) loadClients() (*questionnaire.Clients, error) {
	if c.ClientsFile != "" {
		raw, err := os.ReadFile(c.ClientsFile)
		if err != nil {
			return nil, fmt.Errorf("EPROM_CLIENTS_FILE: %w", err)
		}
		clients, err := questionnaire.ParseClients(raw)
		if err != nil {
			return nil, fmt.Errorf("EPROM_CLIENTS_FILE: %s: %s", c.ClientsFile, strings.ReplaceAll(err.Error(), "\n", "; "))
		}
		return clients, nil
	}
	raw, err := c.apiTokens()
	if err != nil {
		return nil, err
	}
	tokens, err := parseTokens(raw)
	if err != nil {
		return nil, fmt.Errorf("EPROM_API_TOKENS: %w", err)
	}
	registryToken, err := c.registryToken()
	if err != nil {
		return nil, err
	}
	// Pull stays open beside push, as it was before clients.
	return questionnaire.NewClients([]*questionnaire.Client{{ID: store.DefaultClient, Name: "default", Tokens: tokens,
		RegistryURL: c.RegistryURL, RegistryToken: registryToken, Pull: true, Hemit: c.demoHemit}}), nil
}

var tokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// parseTokens reads name:token pairs, separated by commas or newlines; in
// a file, blank lines and lines starting with # are skipped. Names must be
// unique, and tokens at least MinTokenLength characters. The audit log
// names a token by its position, never by its name or value.
func parseTokens(s string) ([]string, error) {
	var tokens []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(s, ",", "\n")))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, token, ok := strings.Cut(line, ":")
		name, token = strings.TrimSpace(name), strings.TrimSpace(token)
		switch {
		case !ok:
			return nil, fmt.Errorf("an API token must be written name:token")
		case !tokenName.MatchString(name):
			return nil, fmt.Errorf("API token name %q: use letters, digits, '.', '_' and '-'", name)
		case seen[name]:
			return nil, fmt.Errorf("API token name %q is used twice", name)
		case len(token) < questionnaire.MinTokenLength:
			return nil, fmt.Errorf("the API token of %q is shorter than %d characters", name, questionnaire.MinTokenLength)
		case slices.Contains(tokens, token):
			return nil, fmt.Errorf("the API token of %q is also another's", name)
		}
		seen[name] = true
		tokens = append(tokens, token)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("no API token given")
	}
	return tokens, nil
}

// registryToken returns the registry token from the setting or its file.
func (c *Config) registryToken() (string, error) {
	if c.RegistryTokenFile == "" {
		return c.RegistryToken, nil
	}
	b, err := os.ReadFile(c.RegistryTokenFile)
	if err != nil {
		return "", fmt.Errorf("EPROM_REGISTRY_TOKEN_FILE: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// apiTokens returns the token list from the setting or its file.
func (c *Config) apiTokens() (string, error) {
	if c.APITokensFile == "" {
		return c.APITokens, nil
	}
	b, err := os.ReadFile(c.APITokensFile)
	if err != nil {
		return "", fmt.Errorf("EPROM_API_TOKENS_FILE: %w", err)
	}
	return string(b), nil
}

// splitList splits a comma-separated setting, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
