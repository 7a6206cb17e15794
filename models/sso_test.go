package models_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"canopy/models"
)

// sealedSecret stands for what the handlers' sealbox gives: the models
// store it as it is and must never show it, so tests look for it verbatim.
const sealedSecret = "sealed.v1.U0VDUkVULW5PVC1pbi1USEUtY2xlYXI"

func ssoInput(domains string) models.SSOConnectionInput {
	return models.SSOConnectionInput{Issuer: "https://login.acme.test", ClientID: "canopy-client",
		SealedSecret: sealedSecret, Domains: domains, JoinRole: models.RoleViewer}
}

func mustSaveSSO(t *testing.T, store *models.Store, tenantID int64, in models.SSOConnectionInput) *models.SSOConnection {
	t.Helper()
	c, err := store.SaveSSOConnection(context.Background(), tenantID, in)
	if err != nil {
		t.Fatalf("save sso connection of tenant %d: %v", tenantID, err)
	}
	return c
}

func domainNamed(t *testing.T, c *models.SSOConnection, name string) models.SSODomain {
	t.Helper()
	for _, d := range c.Domains {
		if d.Domain == name {
			return d
		}
	}
	t.Fatalf("connection %d has no domain %s", c.ID, name)
	return models.SSODomain{}
}

func domainNames(c *models.SSOConnection) []string {
	out := make([]string, len(c.Domains))
	for i, d := range c.Domains {
		out[i] = d.Domain
	}
	return out
}

func mustConnectionOf(t *testing.T, store *models.Store, tenantID int64) *models.SSOConnection {
	t.Helper()
	c, err := store.SSOConnectionOf(context.Background(), tenantID)
	if err != nil {
		t.Fatalf("connection of tenant %d: %v", tenantID, err)
	}
	return c
}

func mustLineage(t *testing.T, store *models.Store, tenantID int64) models.Lineage {
	t.Helper()
	l, err := store.LineageByID(context.Background(), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mustSetInherit(t *testing.T, store *models.Store, tenantID int64, inherit bool) {
	t.Helper()
	if err := store.SetSSOInherit(context.Background(), tenantID, inherit); err != nil {
		t.Fatalf("set sso inherit of tenant %d to %v: %v", tenantID, inherit, err)
	}
}

// asUser runs fn in a transaction scoped to the user alone, as the sign-in
// callback runs once the provider has said who they are: on Postgres the
// identity and password functions answer only for the scope's own user.
func asUser(t *testing.T, store *models.Store, userID int64, fn func(ctx context.Context, tx *models.Store) error) error {
	t.Helper()
	return store.Within(context.Background(), models.Scope{UserID: userID}, fn)
}

func TestParseDomains(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	many := func(n int) string {
		var ds []string
		for i := range n {
			ds = append(ds, fmt.Sprintf("d%d.example.com", i))
		}
		return strings.Join(ds, ", ")
	}
	longName := strings.Repeat(label63+".", 4)[:250] + ".com" // 254 characters
	cases := []struct {
		name, raw string
		want      []string // nil: refused
	}{
		{"one", "example.com", []string{"example.com"}},
		{"lowercased, sorted, without repeats", "Example.COM, acme.test\nEXAMPLE.com", []string{"acme.test", "example.com"}},
		{"every separator", "a.test,b.test;c.test d.test\te.test\r\nf.test", []string{"a.test", "b.test", "c.test", "d.test", "e.test", "f.test"}},
		{"leading @ and trailing dot", "@acme.test, acme.test., @b.acme.test.", []string{"acme.test", "b.acme.test"}},
		{"hyphens and digits inside labels", "my-company2.co.uk", []string{"my-company2.co.uk"}},
		{"63-character label", label63 + ".com", []string{label63 + ".com"}},
		{"empty", "", nil},
		{"separators only", " ,;\n", nil},
		{"single label", "localhost", nil},
		{"an address, not a domain", "it@acme.test", nil},
		{"two @", "@@acme.test", nil},
		{"empty label", "acme..test", nil},
		{"leading dot", ".acme.test", nil},
		{"leading hyphen", "-acme.test", nil},
		{"trailing hyphen", "acme-.test", nil},
		{"underscore", "ac_me.test", nil},
		{"non-ASCII", "bücher.test", nil},
		{"64-character label", strings.Repeat("a", 64) + ".com", nil},
		{"longer than 253", longName, nil},
		{"one bad among good", "acme.test, bad_one.test", nil},
		{"wildcard", "*.acme.test", nil},
		{"twenty-one domains", many(21), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, msg := models.ParseDomains(c.raw)
			if c.want == nil {
				if msg == "" || got != nil {
					t.Fatalf("ParseDomains(%q) = %v, %q; want a refusal", c.raw, got, msg)
				}
				return
			}
			if msg != "" || !slices.Equal(got, c.want) {
				t.Fatalf("ParseDomains(%q) = %v, %q; want %v", c.raw, got, msg, c.want)
			}
		})
	}
	if got, msg := models.ParseDomains(many(20) + ", d0.example.com"); msg != "" || len(got) != 20 {
		t.Errorf("twenty domains and a repeat: %d, %q", len(got), msg)
	}
	// A refusal names the entry at fault, so the person can find it.
	if _, msg := models.ParseDomains("acme.test, bad_one.test"); !strings.Contains(msg, "bad_one.test") {
		t.Errorf("the refusal does not name the bad entry: %q", msg)
	}
	if len(longName) != 254 {
		t.Fatalf("the long name is %d characters", len(longName))
	}
}

func TestValidateIssuer(t *testing.T) {
	cases := []struct {
		raw  string
		want string // a fragment of the message; "" for accepted
	}{
		{"https://login.example.com", ""},
		{"https://login.example.com/realms/acme", ""},
		{"https://login.example.com:8443/", ""},
		{"http://localhost:5556/dex", ""},
		{"http://127.0.0.1:9000", ""},
		{"http://127.8.9.10", ""},
		{"http://[::1]:8081/", ""},
		{"", "Enter your identity provider"},
		{"login.example.com", "like https://"},
		{"//login.example.com", "like https://"},
		{"https://", "like https://"},
		{"https:login.example.com", "like https://"},
		{"ftp://login.example.com", "like https://"},
		{"javascript:alert(1)", "like https://"},
		{"https://user:password@login.example.com", "like https://"},
		{"https://@login.example.com", "like https://"},
		{" https://login.example.com", "like https://"},
		{"https://login.example.com ", "like https://"},
		{"https://login.example.com/\n", "like https://"},
		{"https://login.example.com/?tenant=acme", "no query or fragment"},
		{"https://login.example.com/#top", "no query or fragment"},
		{"https://login.example.com/?", "no query or fragment"},
		{"https://login.example.com/#", "no query or fragment"},
		{"http://login.example.com", "Use https"},
		{"http://localhost.example.com", "Use https"},
		{"http://127.0.0.1.nip.io", "Use https"},
		{"http://0.0.0.0:8080", "Use https"},
		{"http://10.0.0.1", "Use https"},
		{"http://[::ffff:10.0.0.1]", "Use https"},
		{"https://login.example.com/" + strings.Repeat("a", 500), "at most 500"},
	}
	for _, c := range cases {
		got := models.ValidateIssuer(c.raw)
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("ValidateIssuer(%q) = %q, want %q", c.raw, got, c.want)
		}
	}
}

func TestEmailDomain(t *testing.T) {
	cases := []struct{ email, want string }{
		{"it@acme.test", "acme.test"},
		{"IT@Acme.TEST", "acme.test"},
		{"it@acme.test ", "acme.test"},
		{"odd@name@acme.test", "acme.test"}, // the last @ decides
		{"it@", ""},
		{"no-at-sign", ""},
		{"", ""},
	}
	for _, c := range cases {
		if got := models.EmailDomain(c.email); got != c.want {
			t.Errorf("EmailDomain(%q) = %q, want %q", c.email, got, c.want)
		}
	}
	f := models.SSOInForce{Domains: []string{"acme.test", "staff.test"}, DNSProven: []string{"acme.test"}, Required: true}
	for _, c := range []struct {
		email                      string
		covers, byDNS, requiredFor bool
	}{
		{"it@ACME.test", true, true, true},
		{"it@staff.test", true, false, true},
		{"it@sub.acme.test", false, false, false}, // a subdomain is a domain of its own
		{"it@acme.test.evil.test", false, false, false},
		{"acme.test@evil.test", false, false, false},
		{"nobody", false, false, false},
	} {
		if f.Covers(c.email) != c.covers || f.ProvenByDNS(c.email) != c.byDNS || f.RequiredFor(c.email) != c.requiredFor {
			t.Errorf("%s: covers %v, by DNS %v, required %v; want %v %v %v", c.email,
				f.Covers(c.email), f.ProvenByDNS(c.email), f.RequiredFor(c.email), c.covers, c.byDNS, c.requiredFor)
		}
	}
	f.Required = false
	if f.RequiredFor("it@acme.test") {
		t.Error("a connection that is not required is required")
	}
}

// FuzzParseDomains: whatever is typed, the parser never panics; it accepts
// 1 to 20 distinct, sorted, valid domain names, which read back as
// themselves however they are separated, or refuses with a message.
func FuzzParseDomains(f *testing.F) {
	for _, seed := range []string{
		"example.com", "Example.COM, @acme.test\nacme.test.", " ,;\t", "a..b", "K.test", "xn--bcher-kva.test",
		"-a.test", "@", ".", "a.b.c.d.e.f.g", "it@acme.test", "ünï.test",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, msg := models.ParseDomains(raw)
		if msg != "" {
			if got != nil {
				t.Fatalf("domains %v came with the refusal %q", got, msg)
			}
			return
		}
		if len(got) == 0 || len(got) > 20 || !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatalf("accepted %v: want 1 to 20 sorted distinct domains", got)
		}
		for _, d := range got {
			if !validDomainName(d) {
				t.Fatalf("accepted %q from %q", d, raw)
			}
		}
		for _, sep := range []string{",", "\n", " ", "; "} {
			again, msg := models.ParseDomains(strings.Join(got, sep))
			if msg != "" || !slices.Equal(again, got) {
				t.Fatalf("%v joined by %q reads back as %v, %q", got, sep, again, msg)
			}
		}
	})
}

// validDomainName is the rule on its own: lowercase ASCII letters, digits
// and inner hyphens in labels of 1 to 63, at least two labels, 253 at most.
func validDomainName(d string) bool {
	labels := strings.Split(d, ".")
	if len(d) > 253 || len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return false
		}
		if strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return false
		}
	}
	return true
}

// FuzzValidateIssuer: whatever is typed, validation never panics, and an
// accepted issuer is an absolute https URL — or http on this machine only —
// without credentials, query or fragment, of 500 characters at most.
func FuzzValidateIssuer(f *testing.F) {
	for _, seed := range []string{
		"https://login.example.com", "http://localhost:5556/dex", "http://[::1]:8080", "http://127.0.0.1.nip.io",
		"https://login.example.com/?", "https://login.example.com/#", "HTTP://LOCALHOST", "https://u@h.test",
		"http://0x7f.0.0.1", "http://2130706433", "http://[::ffff:127.0.0.1]", "https://%68.test",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if models.ValidateIssuer(raw) != "" {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || u.User != nil || len(raw) > 500 || strings.ContainsAny(raw, "?#") {
			t.Fatalf("accepted %q (%+v, %v)", raw, u, err)
		}
		switch u.Scheme {
		case "https":
		case "http":
			host := u.Hostname()
			ip := net.ParseIP(host)
			if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				t.Fatalf("accepted plain http to %q, which is not this machine: %q", host, raw)
			}
		default:
			t.Fatalf("accepted the scheme %q: %q", u.Scheme, raw)
		}
	})
}

// TestSaveSSOConnection: creating needs a secret; saving again without one
// keeps it and when it was set; domains no longer listed go with their
// proof, kept ones keep theirs, new ones start unproven with a token each.
func TestSaveSSOConnection(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	noSecret := ssoInput("acme.test")
	noSecret.SealedSecret = ""
	if _, err := w.store.SaveSSOConnection(ctx, w.acme.ID, noSecret); fieldError(err, "client_secret") == "" {
		t.Fatalf("created without a client secret: %v", err)
	}
	if _, err := w.store.SSOConnectionOf(ctx, w.acme.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("a refused creation left a connection: %v", err)
	}
	if _, err := w.store.SaveSSOConnection(ctx, 0, ssoInput("acme.test")); !errors.Is(err, models.ErrNoTenant) {
		t.Fatalf("saved for tenant 0: %v", err)
	}

	in := ssoInput("keep.test, drop.test, @Later.test")
	in.Issuer, in.ClientID, in.JoinRole, in.Required = "  https://login.acme.test/realms/acme  ", " canopy-client ", models.RoleEditor, true
	created := mustSaveSSO(t, w.store, w.acme.ID, in)
	if created.TenantID != w.acme.ID || created.Issuer != "https://login.acme.test/realms/acme" || created.ClientID != "canopy-client" ||
		created.ClientSecretSealed != sealedSecret || created.JoinRole != models.RoleEditor || !created.Required || created.SecretSetAt.IsZero() {
		t.Fatalf("created %+v", created)
	}
	if got := domainNames(created); !slices.Equal(got, []string{"drop.test", "keep.test", "later.test"}) {
		t.Fatalf("domains %v", got)
	}
	tokens := map[string]bool{}
	for _, d := range created.Domains {
		if d.Proof != models.ProofNone || d.ProvenAt != nil || d.Proven() || d.VerificationToken == "" || tokens[d.VerificationToken] {
			t.Fatalf("a new domain is not unproven with a token of its own: %+v", d)
		}
		tokens[d.VerificationToken] = true
		if d.TXTName() != "_canopy-verification."+d.Domain || d.TXTValue() != "canopy-verification="+d.VerificationToken {
			t.Fatalf("TXT record of %s: %s %s", d.Domain, d.TXTName(), d.TXTValue())
		}
	}
	keep, drop := domainNamed(t, created, "keep.test"), domainNamed(t, created, "drop.test")
	if err := w.store.MarkDomainProvenByDNS(ctx, w.acme.ID, keep.ID); err != nil {
		t.Fatal(err)
	}
	if err := w.store.DecideSSODomain(ctx, w.acme.ID, drop.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	proven := domainNamed(t, mustConnectionOf(t, w.store, w.acme.ID), "keep.test")

	// Saved again without a secret, a domain dropped and one added.
	update := ssoInput("keep.test later.test new.test")
	update.SealedSecret, update.Issuer, update.JoinRole = "", "https://login.acme.test/v2", models.RoleAdmin
	updated := mustSaveSSO(t, w.store, w.acme.ID, update)
	if updated.ID != created.ID || updated.ClientSecretSealed != sealedSecret || !updated.SecretSetAt.Equal(created.SecretSetAt) {
		t.Fatalf("saving without a secret changed it: %+v, was %+v", updated, created)
	}
	if updated.Issuer != "https://login.acme.test/v2" || updated.JoinRole != models.RoleAdmin || updated.Required ||
		!updated.CreatedAt.Equal(created.CreatedAt) || updated.UpdatedAt.Before(created.UpdatedAt) {
		t.Fatalf("updated %+v", updated)
	}
	if got := domainNames(updated); !slices.Equal(got, []string{"keep.test", "later.test", "new.test"}) {
		t.Fatalf("domains after the update %v", got)
	}
	kept := domainNamed(t, updated, "keep.test")
	if kept.ID != proven.ID || kept.Proof != models.ProofDNS || kept.VerificationToken != proven.VerificationToken ||
		kept.ProvenAt == nil || !kept.ProvenAt.Equal(*proven.ProvenAt) {
		t.Fatalf("a kept domain lost its proof: %+v, was %+v", kept, proven)
	}
	if d := domainNamed(t, updated, "new.test"); d.Proof != models.ProofNone || tokens[d.VerificationToken] {
		t.Fatalf("a new domain %+v", d)
	}
	if _, err := w.store.SSODomainOf(ctx, w.acme.ID, drop.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("a dropped domain is still there: %v", err)
	}

	// Listed again, a dropped domain starts over: its approval went with it.
	relist := update
	relist.Domains = "keep.test, later.test, new.test, drop.test"
	again := mustSaveSSO(t, w.store, w.acme.ID, relist)
	if d := domainNamed(t, again, "drop.test"); d.ID == drop.ID || d.Proof != models.ProofNone || d.VerificationToken == drop.VerificationToken {
		t.Fatalf("a domain listed again kept its old proof or token: %+v", d)
	}

	// A new secret replaces the old one and dates itself.
	time.Sleep(5 * time.Millisecond)
	rotate := update
	rotate.SealedSecret = "sealed.v1.bmV3LXNlY3JldA"
	rotated := mustSaveSSO(t, w.store, w.acme.ID, rotate)
	if rotated.ClientSecretSealed != rotate.SealedSecret || !rotated.SecretSetAt.After(created.SecretSetAt) {
		t.Fatalf("a new secret: %q set at %v, was set at %v", rotated.ClientSecretSealed, rotated.SecretSetAt, created.SecretSetAt)
	}
}

// TestSaveSSOConnectionRefusesBadInput: each mistake is named beside its
// field, and nothing of the saved connection changes.
func TestSaveSSOConnectionRefusesBadInput(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	saved := mustSaveSSO(t, w.store, w.acme.ID, ssoInput("acme.test"))
	many := make([]string, 21)
	for i := range many {
		many[i] = fmt.Sprintf("d%d.acme.test", i)
	}
	cases := []struct {
		name  string
		edit  func(*models.SSOConnectionInput)
		field string
	}{
		{"no issuer", func(in *models.SSOConnectionInput) { in.Issuer = "  " }, "issuer"},
		{"not a URL", func(in *models.SSOConnectionInput) { in.Issuer = "login.acme.test" }, "issuer"},
		{"plain http elsewhere", func(in *models.SSOConnectionInput) { in.Issuer = "http://login.acme.test" }, "issuer"},
		{"a query", func(in *models.SSOConnectionInput) { in.Issuer = "https://login.acme.test/?x=1" }, "issuer"},
		{"no client id", func(in *models.SSOConnectionInput) { in.ClientID = " " }, "client_id"},
		{"a long client id", func(in *models.SSOConnectionInput) { in.ClientID = strings.Repeat("c", 256) }, "client_id"},
		{"no domains", func(in *models.SSOConnectionInput) { in.Domains = "" }, "domains"},
		{"a bad domain", func(in *models.SSOConnectionInput) { in.Domains = "acme.test, acme" }, "domains"},
		{"too many domains", func(in *models.SSOConnectionInput) { in.Domains = strings.Join(many, ",") }, "domains"},
		{"join as Super Admin", func(in *models.SSOConnectionInput) { in.JoinRole = models.RoleSuperAdmin }, "join_role"},
		{"no join role", func(in *models.SSOConnectionInput) { in.JoinRole = "" }, "join_role"},
		{"an unknown join role", func(in *models.SSOConnectionInput) { in.JoinRole = "owner" }, "join_role"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := ssoInput("acme.test, other.test")
			in.Issuer, in.SealedSecret = "https://changed.acme.test", "sealed.v1.b3RoZXI"
			c.edit(&in)
			_, err := w.store.SaveSSOConnection(ctx, w.acme.ID, in)
			if fieldError(err, c.field) == "" {
				t.Fatalf("err = %v, want a message beside %s", err, c.field)
			}
			now := mustConnectionOf(t, w.store, w.acme.ID)
			if now.Issuer != saved.Issuer || now.ClientSecretSealed != sealedSecret || !slices.Equal(domainNames(now), []string{"acme.test"}) ||
				!now.UpdatedAt.Equal(saved.UpdatedAt) {
				t.Fatalf("a refused save changed the connection: %+v", now)
			}
		})
	}
	// The database holds the same line.
	if err := w.store.ExecForTest(ctx, "UPDATE sso_connections SET join_role = 'super_admin'"); err == nil {
		t.Error("the database accepted Super Admin as the join role")
	}
	if err := w.store.ExecForTest(ctx, "UPDATE sso_domains SET domain = 'ACME.test'"); err == nil {
		t.Error("the database accepted an uppercase domain")
	}
}

// TestSSOConnectionAuditNeverHoldsTheSecret: every save is audited, with
// what changed and when the secret was set, never the sealed secret itself.
func TestSSOConnectionAuditNeverHoldsTheSecret(t *testing.T) {
	w := newWorld(t)
	ctx := models.WithActor(context.Background(), models.Actor{UserID: w.alice.ID, Email: w.alice.Email, IP: auditIP})
	if _, err := w.store.SaveSSOConnection(ctx, w.acme.ID, ssoInput("acme.test")); err != nil {
		t.Fatal(err)
	}
	update := ssoInput("acme.test, b.acme.test")
	update.SealedSecret = "sealed.v1.c2Vjb25kLXNlY3JldA"
	c, err := w.store.SaveSSOConnection(ctx, w.acme.ID, update)
	if err != nil {
		t.Fatal(err)
	}
	keep := update
	keep.SealedSecret, keep.Required = "", true
	if _, err := w.store.SaveSSOConnection(ctx, w.acme.ID, keep); err != nil {
		t.Fatal(err)
	}
	events := auditEvents(t, w.store, w.acme.ID, models.AuditSSOConnectionSaved)
	if len(events) != 3 {
		t.Fatalf("%d sso.connection_saved events, want 3", len(events))
	}
	first := events[2]
	if first.Before != nil || first.After == nil || first.TargetType != "sso_connection" || first.TargetID != fmt.Sprint(c.ID) ||
		first.ActorEmail != w.alice.Email || first.IP != auditIP {
		t.Fatalf("the creation's event: %+v", first)
	}
	for _, e := range events {
		for _, raw := range []string{str(e.Before), str(e.After)} {
			if strings.Contains(raw, sealedSecret) || strings.Contains(raw, update.SealedSecret) || strings.Contains(raw, "sealed") {
				t.Fatalf("the audit log holds the sealed secret: %s", raw)
			}
		}
	}
	if !strings.Contains(str(first.After), "client_secret_set_at") || !strings.Contains(str(first.After), "acme.test") {
		t.Fatalf("the creation's event does not say what was saved: %s", str(first.After))
	}
	// A save records what it changed, not what it kept.
	if str(events[0].Before) != `{"required":false}` || str(events[0].After) != `{"required":true}` {
		t.Fatalf("the last save's event: %s → %s, want only required", str(events[0].Before), str(events[0].After))
	}
	if !strings.Contains(str(events[1].After), `"client_secret":"replaced"`) {
		t.Fatalf("a new secret is not recorded as set: %s", str(events[1].After))
	}
	if !strings.Contains(str(events[1].After), "b.acme.test") || strings.Contains(str(events[1].Before), "b.acme.test") {
		t.Fatalf("the domains' change is not recorded: %s → %s", str(events[1].Before), str(events[1].After))
	}

	// Removing the connection is audited the same way, and takes its domains.
	if err := w.store.DeleteSSOConnection(ctx, w.acme.ID); err != nil {
		t.Fatal(err)
	}
	deleted := auditEvents(t, w.store, w.acme.ID, models.AuditSSOConnectionDeleted)
	if len(deleted) != 1 || deleted[0].After != nil || strings.Contains(str(deleted[0].Before), "sealed") {
		t.Fatalf("deletion events: %+v", deleted)
	}
	if _, err := w.store.SSOConnectionOf(ctx, w.acme.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("after deleting: %v", err)
	}
	if _, err := w.store.SSODomainOf(ctx, w.acme.ID, c.Domains[0].ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("a deleted connection's domain remains: %v", err)
	}
	if err := w.store.DeleteSSOConnection(ctx, w.acme.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("deleting twice: %v", err)
	}
}

// TestSSOInForceFollowsTheTree: what is in force below a company is read
// from the company each time, so a change there reaches every inheriting
// tenant at once; a tenant that stops inheriting uses its own connection
// and one that inherits again uses its parent's, its own still saved.
func TestSSOInForceFollowsTheTree(t *testing.T) {
	tr := newTree(t)
	ctx := context.Background()
	mustSetInherit(t, tr.store, tr.acme.ID, false)
	in := ssoInput("acme.test, dns.test, staff.test, refused.test, pending.test")
	in.Required = true
	acmeConn := mustSaveSSO(t, tr.store, tr.acme.ID, in)
	for _, step := range []struct {
		domain string
		prove  func(id int64) error
	}{
		{"acme.test", func(id int64) error { return tr.store.MarkDomainProvenByDNS(ctx, tr.acme.ID, id) }},
		{"dns.test", func(id int64) error { return tr.store.MarkDomainProvenByDNS(ctx, tr.acme.ID, id) }},
		{"staff.test", func(id int64) error { return tr.store.DecideSSODomain(ctx, tr.acme.ID, id, true, "Contract on file") }},
		{"refused.test", func(id int64) error { return tr.store.DecideSSODomain(ctx, tr.acme.ID, id, false, "Not theirs") }},
	} {
		if err := step.prove(domainNamed(t, acmeConn, step.domain).ID); err != nil {
			t.Fatalf("%s: %v", step.domain, err)
		}
	}
	inForce := func(tn *models.Tenant) (*models.SSOInForce, error) {
		t.Helper()
		return tr.store.SSOInForce(ctx, mustLineage(t, tr.store, tn.ID))
	}
	expect := func(tn *models.Tenant, owner *models.Tenant, inherited bool, issuer string, domains, dns []string) {
		t.Helper()
		f, err := inForce(tn)
		if err != nil {
			t.Fatalf("in force at %s: %v", tn.Name, err)
		}
		if f.Owner.ID != owner.ID || f.Inherited != inherited || f.Issuer != issuer || !slices.Equal(f.Domains, domains) || !slices.Equal(f.DNSProven, dns) {
			t.Fatalf("in force at %s: owner %s, inherited %v, issuer %s, domains %v, by DNS %v; want %s %v %s %v %v",
				tn.Name, f.Owner.Name, f.Inherited, f.Issuer, f.Domains, f.DNSProven, owner.Name, inherited, issuer, domains, dns)
		}
	}
	proven, byDNS := []string{"acme.test", "dns.test", "staff.test"}, []string{"acme.test", "dns.test"}
	expect(tr.acme, tr.acme, false, in.Issuer, proven, byDNS)
	expect(tr.eu, tr.acme, true, in.Issuer, proven, byDNS)
	expect(tr.euLab, tr.acme, true, in.Issuer, proven, byDNS)
	f, _ := inForce(tr.euLab)
	if f.ConnectionID != acmeConn.ID || f.ClientID != in.ClientID || f.JoinRole != models.RoleViewer || !f.Required ||
		!f.SecretSetAt.Equal(acmeConn.SecretSetAt) || f.UpdatedAt.IsZero() {
		t.Fatalf("in force at the lab: %+v", f)
	}

	// Acme's change reaches its grandchild at once.
	change := in
	change.SealedSecret, change.Issuer, change.JoinRole, change.Domains = "", "https://sso.acme.test", models.RoleEditor, "acme.test, staff.test, pending.test"
	mustSaveSSO(t, tr.store, tr.acme.ID, change)
	pending := domainNamed(t, mustConnectionOf(t, tr.store, tr.acme.ID), "pending.test")
	if err := tr.store.DecideSSODomain(ctx, tr.acme.ID, pending.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	expect(tr.euLab, tr.acme, true, "https://sso.acme.test", []string{"acme.test", "pending.test", "staff.test"}, []string{"acme.test"})
	if f, _ := inForce(tr.euLab); f.JoinRole != models.RoleEditor {
		t.Fatalf("the lab's join role %s, want acme's new one", f.JoinRole)
	}

	// Acme Europe saves its own connection: while it inherits, it is not in force.
	euIn := ssoInput("eu.acme.test")
	euIn.Issuer = "https://login.eu.acme.test"
	euConn := mustSaveSSO(t, tr.store, tr.eu.ID, euIn)
	expect(tr.euLab, tr.acme, true, "https://sso.acme.test", []string{"acme.test", "pending.test", "staff.test"}, []string{"acme.test"})
	mustSetInherit(t, tr.store, tr.eu.ID, false)
	expect(tr.eu, tr.eu, false, euIn.Issuer, nil, nil)
	expect(tr.euLab, tr.eu, true, euIn.Issuer, nil, nil)
	if f, _ := inForce(tr.euLab); f.ConnectionID != euConn.ID || f.Covers("it@eu.acme.test") {
		t.Fatalf("an unproven domain signs people in: %+v", f)
	}
	// Inheriting again brings acme's back, and Europe's own stays saved.
	mustSetInherit(t, tr.store, tr.eu.ID, true)
	expect(tr.eu, tr.acme, true, "https://sso.acme.test", []string{"acme.test", "pending.test", "staff.test"}, []string{"acme.test"})
	expect(tr.euLab, tr.acme, true, "https://sso.acme.test", []string{"acme.test", "pending.test", "staff.test"}, []string{"acme.test"})
	if kept := mustConnectionOf(t, tr.store, tr.eu.ID); kept.ID != euConn.ID || kept.Issuer != euIn.Issuer || kept.ClientSecretSealed != sealedSecret {
		t.Fatalf("Acme Europe's own connection after inheriting again: %+v", kept)
	}
	if got := auditEvents(t, tr.store, tr.eu.ID, models.AuditSSOInheritanceChanged); len(got) != 2 {
		t.Fatalf("%d inheritance events, want 2", len(got))
	}
	mustSetInherit(t, tr.store, tr.eu.ID, true) // no change, no event
	if got := auditEvents(t, tr.store, tr.eu.ID, models.AuditSSOInheritanceChanged); len(got) != 2 {
		t.Fatalf("setting what was already set was audited: %d events", len(got))
	}

	// Nothing in force: a company under the platform that inherits, one that
	// does not but has no connection, and a tenant inheriting from it.
	for _, tn := range []*models.Tenant{tr.globex, tr.globexEU} {
		if _, err := inForce(tn); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("in force at %s, which inherits from the platform: %v", tn.Name, err)
		}
	}
	platformIn := ssoInput("canopy.test")
	platformIn.Issuer = "https://login.canopy.test"
	mustSaveSSO(t, tr.store, tr.platform.ID, platformIn)
	expect(tr.platform, tr.platform, false, platformIn.Issuer, nil, nil)
	if _, err := inForce(tr.globex); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("the platform's connection reached a company below it: %v", err)
	}
	mustSetInherit(t, tr.store, tr.globex.ID, false)
	for _, tn := range []*models.Tenant{tr.globex, tr.globexEU} {
		if _, err := inForce(tn); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("in force at %s, whose owner has no connection: %v", tn.Name, err)
		}
	}
	// The platform neither inherits nor is told to.
	if err := tr.store.SetSSOInherit(ctx, tr.platform.ID, true); err != nil {
		t.Fatal(err)
	}
	expect(tr.platform, tr.platform, false, platformIn.Issuer, nil, nil)
}

// TestSSODomainProof: a domain is proven by its DNS record or by platform
// staff, who must say why they refuse; a decision is taken on a domain
// still waiting for one, and each is audited.
func TestSSODomainProof(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	bob := mustUser(t, w.store, "bob@globex.test")
	globex, err := w.store.CreateTenant(ctx, models.NewTenant{ParentID: w.platform.ID, Name: "Globex", Subdomain: "globex", Timezone: "UTC", OwnerUserID: bob.ID})
	if err != nil {
		t.Fatal(err)
	}
	c := mustSaveSSO(t, w.store, w.acme.ID, ssoInput("approve.test, refuse.test, dns.test, late.test"))
	domain := func(name string) models.SSODomain {
		t.Helper()
		d := domainNamed(t, c, name)
		got, err := w.store.SSODomainOf(ctx, w.acme.ID, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		return *got
	}
	approve, refuse, dns, late := domain("approve.test"), domain("refuse.test"), domain("dns.test"), domain("late.test")

	for _, note := range []string{"", "   \n"} {
		if err := w.store.DecideSSODomain(ctx, w.acme.ID, refuse.ID, false, note); fieldError(err, "note") == "" {
			t.Fatalf("refused with the note %q: %v", note, err)
		}
	}
	if err := w.store.DecideSSODomain(ctx, w.acme.ID, approve.ID, true, strings.Repeat("n", 501)); fieldError(err, "note") == "" {
		t.Fatalf("a 501-character note: %v", err)
	}
	if d := domain("refuse.test"); d.Proof != models.ProofNone {
		t.Fatalf("a refused decision changed the domain: %+v", d)
	}
	// Another tenant's domain, or an unknown one, is not found.
	for _, other := range []struct{ tenant, domain int64 }{{globex.ID, approve.ID}, {w.acme.ID, 999999}} {
		if err := w.store.DecideSSODomain(ctx, other.tenant, other.domain, true, ""); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("deciding domain %d of tenant %d: %v", other.domain, other.tenant, err)
		}
		if err := w.store.MarkDomainProvenByDNS(ctx, other.tenant, other.domain); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("proving domain %d of tenant %d: %v", other.domain, other.tenant, err)
		}
	}

	if err := w.store.DecideSSODomain(ctx, w.acme.ID, approve.ID, true, "  Contract on file  "); err != nil {
		t.Fatal(err)
	}
	if err := w.store.DecideSSODomain(ctx, w.acme.ID, refuse.ID, false, "We found no tie to this domain."); err != nil {
		t.Fatal(err)
	}
	if err := w.store.MarkDomainProvenByDNS(ctx, w.acme.ID, dns.ID); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		proof  models.DomainProof
		note   string
		proven bool
	}{
		{"approve.test", models.ProofStaff, "Contract on file", true},
		{"refuse.test", models.ProofRefused, "We found no tie to this domain.", false},
		{"dns.test", models.ProofDNS, "", true},
		{"late.test", models.ProofNone, "", false},
	}
	for _, c := range cases {
		d := domain(c.name)
		if d.Proof != c.proof || d.ProofNote != c.note || d.Proven() != c.proven || (d.ProvenAt != nil) != c.proven {
			t.Errorf("%s: %+v, want proof %s, note %q, proven %v", c.name, d, c.proof, c.note, c.proven)
		}
	}

	// A decision is for a domain waiting for one: a second one, from a page
	// shown before the first, changes nothing.
	for _, c := range []struct {
		d       models.SSODomain
		approve bool
	}{{approve, false}, {refuse, true}, {dns, false}} {
		if err := w.store.DecideSSODomain(ctx, w.acme.ID, c.d.ID, c.approve, "Second thoughts"); !errors.Is(err, models.ErrChangedMeanwhile) {
			t.Errorf("deciding %s again: %v, want ErrChangedMeanwhile", c.d.Domain, err)
		}
	}
	// Its DNS record proves a domain whatever staff said, once.
	for _, d := range []models.SSODomain{approve, refuse, dns, dns} {
		if err := w.store.MarkDomainProvenByDNS(ctx, w.acme.ID, d.ID); err != nil {
			t.Fatalf("proving %s by DNS: %v", d.Domain, err)
		}
		if got := domain(d.Domain); got.Proof != models.ProofDNS || got.ProofNote != "" || got.ProvenAt == nil {
			t.Fatalf("%s after its DNS record was seen: %+v", d.Domain, got)
		}
	}

	byAction := func(action string) []string {
		var out []string
		for _, e := range auditEvents(t, w.store, w.acme.ID, action) {
			if e.TargetType != "sso_domain" {
				t.Errorf("%s event about a %s", action, e.TargetType)
			}
			out = append(out, e.TargetLabel+" "+str(e.Before)+" "+str(e.After))
		}
		slices.Sort(out)
		return out
	}
	want := map[string][]string{
		models.AuditSSODomainApproved: {`approve.test {"proof":"none"} {"note":"Contract on file","proof":"staff"}`},
		models.AuditSSODomainRefused:  {`refuse.test {"proof":"none"} {"note":"We found no tie to this domain.","proof":"refused"}`},
		models.AuditSSODomainVerified: {
			`approve.test {"proof":"staff"} {"note":"","proof":"dns"}`,
			`dns.test {"proof":"none"} {"note":"","proof":"dns"}`,
			`refuse.test {"proof":"refused"} {"note":"","proof":"dns"}`,
		},
	}
	for action, events := range want {
		if got := byAction(action); !slices.Equal(got, events) {
			t.Errorf("%s events:\n%s\nwant\n%s", action, strings.Join(got, "\n"), strings.Join(events, "\n"))
		}
	}
	if late.Proof != models.ProofNone {
		t.Fatal("late.test was decided")
	}
}

// TestPendingSSODomains: platform staff see every company's unproven
// domains, oldest first, with the company and its provider.
func TestPendingSSODomains(t *testing.T) {
	tr := newTree(t)
	ctx := context.Background()
	acme := mustSaveSSO(t, tr.store, tr.acme.ID, ssoInput("a1.test, a2.test"))
	time.Sleep(5 * time.Millisecond)
	globexIn := ssoInput("g1.test")
	globexIn.Issuer = "https://login.globex.test"
	mustSaveSSO(t, tr.store, tr.globex.ID, globexIn)
	if err := tr.store.MarkDomainProvenByDNS(ctx, tr.acme.ID, domainNamed(t, acme, "a1.test").ID); err != nil {
		t.Fatal(err)
	}
	page, err := tr.store.PendingSSODomains(ctx, tr.platform.ID, models.PageRequest{Number: 1, Size: 25})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range page.Items {
		got = append(got, d.Domain+" "+d.TenantSubdomain+" "+d.Issuer)
	}
	want := []string{"a2.test acme https://login.acme.test", "g1.test globex https://login.globex.test"}
	if page.Total != 2 || !slices.Equal(got, want) {
		t.Fatalf("pending: %d %v, want %v", page.Total, got, want)
	}
	if _, err := tr.store.PendingSSODomains(ctx, 0, models.PageRequest{Number: 1, Size: 25}); !errors.Is(err, models.ErrNoTenant) {
		t.Fatalf("without the platform: %v", err)
	}
}

// TestIdentityLinks: an identity is linked once, then only noted; one
// linked to someone is never moved to someone else.
func TestIdentityLinks(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	bob := mustUser(t, w.store, "bob@acme.test")
	const issuer, subject = "https://login.acme.test", "248289761001"
	if _, err := w.store.IdentityUser(ctx, issuer, subject); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("an unknown identity: %v", err)
	}
	link := func(userID int64, issuer, subject, email string) (linked bool, err error) {
		err = asUser(t, w.store, userID, func(ctx context.Context, tx *models.Store) error {
			linked, err = tx.LinkIdentity(ctx, userID, issuer, subject, email)
			return err
		})
		return linked, err
	}
	if linked, err := link(w.alice.ID, issuer, subject, "alice@acme.test"); err != nil || !linked {
		t.Fatalf("first link: %v, %v", linked, err)
	}
	if linked, err := link(w.alice.ID, issuer, subject, "alice.anderson@acme.test"); err != nil || linked {
		t.Fatalf("second sign-in: linked %v, %v; want a note of its use", linked, err)
	}
	if id, err := w.store.IdentityUser(ctx, issuer, subject); err != nil || id != w.alice.ID {
		t.Fatalf("the identity belongs to %d, %v; want alice", id, err)
	}
	if _, err := link(bob.ID, issuer, subject, "bob@acme.test"); err == nil {
		t.Fatal("alice's identity was linked to bob")
	}
	if id, err := w.store.IdentityUser(ctx, issuer, subject); err != nil || id != w.alice.ID {
		t.Fatalf("after bob's attempt the identity belongs to %d, %v", id, err)
	}
	// The same subject at another provider is another identity.
	if linked, err := link(bob.ID, "https://login.other.test", subject, "bob@acme.test"); err != nil || !linked {
		t.Fatalf("bob's identity at another provider: %v, %v", linked, err)
	}
	if id, err := w.store.IdentityUser(ctx, "https://login.other.test", subject); err != nil || id != bob.ID {
		t.Fatalf("bob's identity belongs to %d, %v", id, err)
	}
	if _, err := w.store.IdentityUser(ctx, issuer, subject+"0"); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("a near subject: %v", err)
	}
}

// TestJoinThroughSSO: someone new joins with the connection's role; a
// member keeps theirs; nobody joins as Super Admin.
func TestJoinThroughSSO(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	newcomer := mustUser(t, w.store, "newcomer@acme.test")
	viewer := mustUser(t, w.store, "viewer@acme.test")
	if _, err := w.store.AddMember(ctx, w.acme.ID, viewer.ID, models.RoleViewer); err != nil {
		t.Fatal(err)
	}
	for _, role := range []models.Role{models.RoleSuperAdmin, "", "owner"} {
		if joined, err := w.store.JoinThroughSSO(ctx, w.acme.ID, newcomer.ID, role); !errors.Is(err, models.ErrNotAllowed) || joined {
			t.Fatalf("joined as %q: %v, %v", role, joined, err)
		}
	}
	if _, err := w.store.MembershipOf(ctx, w.acme.ID, newcomer.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("a refused join left a membership: %v", err)
	}
	cases := []struct {
		name   string
		user   *models.User
		role   models.Role
		joined bool
		want   models.Role
	}{
		{"someone new", newcomer, models.RoleEditor, true, models.RoleEditor},
		{"the same again", newcomer, models.RoleAdmin, false, models.RoleEditor},
		{"a viewer is not raised", viewer, models.RoleAdmin, false, models.RoleViewer},
		{"the owner is not lowered", w.alice, models.RoleViewer, false, models.RoleSuperAdmin},
	}
	for _, c := range cases {
		joined, err := w.store.JoinThroughSSO(ctx, w.acme.ID, c.user.ID, c.role)
		if err != nil || joined != c.joined {
			t.Fatalf("%s: joined %v, %v", c.name, joined, err)
		}
		if m, err := w.store.MembershipOf(ctx, w.acme.ID, c.user.ID); err != nil || m.Role != c.want {
			t.Fatalf("%s: membership %+v, %v; want %s", c.name, m, err, c.want)
		}
	}
	events := auditEvents(t, w.store, w.acme.ID, models.AuditMemberAdded)
	var through []string
	for _, e := range events {
		if strings.Contains(str(e.After), "single sign-on") {
			through = append(through, e.TargetLabel+" "+str(e.After))
		}
	}
	if !slices.Equal(through, []string{`newcomer@acme.test {"role":"editor","through":"single sign-on"}`}) {
		t.Fatalf("joins audited: %v", through)
	}
}

// TestCreateSSOUser: someone a provider signed in gets an active account
// without a password, which no password opens.
func TestCreateSSOUser(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	u, err := w.store.CreateSSOUser(ctx, "  New.Person@Acme.TEST ", " New ", " Person ")
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "new.person@acme.test" || u.FirstName != "New" || u.LastName != "Person" || u.Status != models.UserActive {
		t.Fatalf("created %+v", u)
	}
	for _, password := range []string{"", "a-long-password", "anything at all"} {
		if _, err := w.store.Authenticate(ctx, u.Email, password); !errors.Is(err, models.ErrBadCredentials) {
			t.Fatalf("signed in with the password %q: %v", password, err)
		}
	}
	for _, c := range []struct {
		user *models.User
		want bool
	}{{u, false}, {w.alice, true}} {
		err := asUser(t, w.store, c.user.ID, func(ctx context.Context, tx *models.Store) error {
			has, err := tx.HasPassword(ctx, c.user.ID)
			if err == nil && has != c.want {
				t.Errorf("%s has a password: %v, want %v", c.user.Email, has, c.want)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Names a provider sends that no form would take are left out, not refused.
	odd, err := w.store.CreateSSOUser(ctx, "odd@acme.test", strings.Repeat("x", 101), "Line\nbreak")
	if err != nil || odd.FirstName != "" || odd.LastName != "" {
		t.Fatalf("odd names: %+v, %v", odd, err)
	}
	if _, err := w.store.CreateSSOUser(ctx, "NEW.person@acme.test", "Again", ""); fieldError(err, "email") == "" {
		t.Fatalf("a second account for the same address: %v", err)
	}
	if _, err := w.store.CreateSSOUser(ctx, "not-an-address", "No", ""); fieldError(err, "email") == "" {
		t.Fatalf("an account without an address: %v", err)
	}
}

// TestSignInMethods: for each member, whether a password, a provider or
// both sign them in.
func TestSignInMethods(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	ssoOnly, err := w.store.CreateSSOUser(ctx, "sso@acme.test", "Sso", "Only")
	if err != nil {
		t.Fatal(err)
	}
	both := mustUser(t, w.store, "both@acme.test")
	neither, err := w.store.CreateUserForTest(ctx, "neither@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	outsider := mustUser(t, w.store, "outsider@globex.test")
	for _, u := range []*models.User{ssoOnly, both, neither} {
		if _, err := w.store.AddMember(ctx, w.acme.ID, u.ID, models.RoleViewer); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []*models.User{ssoOnly, both, outsider} {
		err := asUser(t, w.store, u.ID, func(ctx context.Context, tx *models.Store) error {
			_, err := tx.LinkIdentity(ctx, u.ID, "https://login.acme.test", "sub-"+u.Email, u.Email)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var got map[int64]models.SignInMethod
	err = w.store.Within(ctx, models.Scope{TenantID: w.acme.ID}, func(ctx context.Context, tx *models.Store) error {
		got, err = tx.SignInMethods(ctx, w.acme.ID, []int64{w.alice.ID, ssoOnly.ID, both.ID, neither.ID, outsider.ID})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]string{w.alice.ID: "Password", ssoOnly.ID: "SSO", both.ID: "Password and SSO", neither.ID: "Not yet"}
	if len(got) != len(want) {
		t.Fatalf("methods of %d people, want acme's %d members: %v", len(got), len(want), got)
	}
	for id, label := range want {
		if m, ok := got[id]; !ok || m.Label() != label {
			t.Errorf("user %d: %+v (%q), want %q", id, m, m.Label(), label)
		}
	}
	if _, err := w.store.SignInMethods(ctx, 0, []int64{w.alice.ID}); !errors.Is(err, models.ErrNoTenant) {
		t.Fatalf("tenant 0: %v", err)
	}
	// The Team page reads the same with its rows, in the same statement.
	var team models.Page[models.TeamRow]
	err = w.store.Within(ctx, models.Scope{TenantID: w.acme.ID}, func(ctx context.Context, tx *models.Store) error {
		team, err = tx.Team(ctx, w.acme.ID, "", models.PageRequest{Number: 1, Size: 25})
		return err
	})
	if err != nil || len(team.Items) != len(want) {
		t.Fatalf("acme's team: %d rows (%v), want %d", len(team.Items), err, len(want))
	}
	for _, r := range team.Items {
		if r.SignIn.Label() != want[r.UserID] {
			t.Errorf("team row of %s: %q, want %q", r.Email, r.SignIn.Label(), want[r.UserID])
		}
	}
}

// TestJoinThroughSSOAtTheSameMoment: sign-ins of someone new at once (two
// tabs) make one membership, and none fails.
func TestJoinThroughSSOAtTheSameMoment(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	const people, tries = 10, 4
	for i := range people {
		newcomer := mustUser(t, w.store, fmt.Sprintf("newcomer%d@acme.test", i))
		var joins atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, tries)
		start := make(chan struct{})
		for range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				joined, err := w.store.JoinThroughSSO(ctx, w.acme.ID, newcomer.ID, models.RoleEditor)
				if err != nil {
					errs <- err
				}
				if joined {
					joins.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("a sign-in of %s failed: %v", newcomer.Email, err)
		}
		if joins.Load() != 1 {
			t.Fatalf("%d sign-ins of %s say they joined, want 1", joins.Load(), newcomer.Email)
		}
		if m, err := w.store.MembershipOf(ctx, w.acme.ID, newcomer.ID); err != nil || m.Role != models.RoleEditor {
			t.Fatalf("membership %+v, %v", m, err)
		}
	}
}
