package models

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SSOConnection is a company's OpenID Connect connection: the identity
// provider its IT team set up, which signs in people of the email domains
// it has proven. Its client secret is kept sealed (AES-GCM, with a key only
// the server holds): the models never see it in the clear.
type SSOConnection struct {
	ID                 int64
	TenantID           int64
	Issuer             string
	ClientID           string
	ClientSecretSealed string
	SecretSetAt        time.Time
	JoinRole           Role
	Required           bool
	CreatedAt          time.Time
	UpdatedAt          time.Time
	Domains            []SSODomain `gorm:"-"`
}

// SSOSecretBinding names what a connection's client secret is sealed for
// (its tenant), so a sealed value copied onto another tenant's connection
// does not open.
func SSOSecretBinding(tenantID int64) string { return fmt.Sprintf("sso-connection:%d", tenantID) }

// TableName is the table of SSOConnection.
func (SSOConnection) TableName() string { return "sso_connections" }

// DomainProof says how a connection's claim to an email domain stands.
type DomainProof string

// The proofs: only a domain proven by DNS or approved by platform staff
// signs anyone in, so a company's identity provider can never speak for
// addresses of someone else's domain.
const (
	ProofNone    DomainProof = "none"    // claimed only
	ProofDNS     DomainProof = "dns"     // its TXT record was seen
	ProofStaff   DomainProof = "staff"   // platform staff approved it
	ProofRefused DomainProof = "refused" // platform staff declined it
)

// SSODomain is an email domain a connection claims.
type SSODomain struct {
	ID                int64
	TenantID          int64
	ConnectionID      int64
	Domain            string
	VerificationToken string
	Proof             DomainProof
	ProofNote         string
	ProvenAt          *time.Time
	CreatedAt         time.Time
}

// TableName is the table of SSODomain.
func (SSODomain) TableName() string { return "sso_domains" }

// Proven tells whether the domain signs people in.
func (d SSODomain) Proven() bool { return d.Proof == ProofDNS || d.Proof == ProofStaff }

// TXTName is the DNS name whose TXT record proves the domain.
func (d SSODomain) TXTName() string { return "_canopy-verification." + d.Domain }

// TXTValue is what that record must hold.
func (d SSODomain) TXTValue() string { return "canopy-verification=" + d.VerificationToken }

// SSOInForce is the connection a tenant's sign-in uses: its own, or the
// nearest ancestor's when it inherits. It carries nothing secret, so it may
// be shown to a descendant and to anyone on a sign-in page.
type SSOInForce struct {
	ConnectionID int64
	Owner        Tenant // whose connection it is
	Inherited    bool   // Owner is above the tenant it is in force at
	Issuer       string
	ClientID     string
	JoinRole     Role
	Required     bool
	SecretSetAt  time.Time
	UpdatedAt    time.Time
	Domains      []string // proven domains only
	DNSProven    []string // those proven by DNS
}

// Covers tells whether the connection signs in people with this email.
func (f *SSOInForce) Covers(email string) bool {
	return slices.Contains(f.Domains, EmailDomain(email))
}

// ProvenByDNS tells whether the email's domain was proven by a DNS record,
// not only approved: linking an existing account then needs no password.
func (f *SSOInForce) ProvenByDNS(email string) bool {
	return slices.Contains(f.DNSProven, EmailDomain(email))
}

// RequiredFor tells whether people with this email must sign in through
// the connection rather than with a password.
func (f *SSOInForce) RequiredFor(email string) bool { return f.Required && f.Covers(email) }

// EmailDomain is the lowercase part after the last @, or "".
func EmailDomain(email string) string {
	at := strings.LastIndex(email, "@")
	if at < 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(email[at+1:]))
}

// SSOOwner is the tenant whose connection is in force at the lineage's
// tenant: the nearest, itself included, that does not inherit. Inheritance
// never reaches the platform tenant: its connection is the provider's own
// staff's, never lent to the companies below it. So a company directly
// below the platform owns its connection whatever its flag says (every new
// company starts inheriting, and there is nothing above it to inherit).
// Nil only for a lineage that does not reach the platform.
func (l Lineage) SSOOwner() *Tenant {
	for i := range l {
		t := &l[i]
		if t.IsPlatform() || !t.SSOInherit || (i+1 < len(l) && l[i+1].IsPlatform()) {
			return t
		}
	}
	return nil
}

// SSOInForce is the connection in force at the lineage's tenant, read from
// the tenant that owns it, or ErrNotFound when there is none. On Postgres
// the owner may be a tenant the request's scope cannot see: a function of
// the owner's reads its public fields, never the sealed secret.
func (s *Store) SSOInForce(ctx context.Context, l Lineage) (*SSOInForce, error) {
	owner := l.SSOOwner()
	if owner == nil {
		return nil, fmt.Errorf("sso in force: %w", ErrNotFound)
	}
	var row struct {
		ID, TenantID               int64
		Issuer, ClientID, JoinRole string
		Required                   bool
		SecretSetAt, UpdatedAt     time.Time
		Domains, DNSProven         string
	}
	var err error
	if s.Dialect() == Postgres {
		err = s.conn(ctx).Raw(`SELECT id, tenant_id, issuer, client_id, join_role, required, secret_set_at, updated_at,
			array_to_string(domains, ' ') AS domains, array_to_string(dns_proven, ' ') AS dns_proven
			FROM canopy_sso_connection(?)`, owner.ID).Take(&row).Error
	} else {
		err = s.conn(ctx).Raw(`SELECT c.id, c.tenant_id, c.issuer, c.client_id, c.join_role, c.required, c.secret_set_at, c.updated_at,
			coalesce((SELECT group_concat(domain, ' ') FROM (SELECT domain FROM sso_domains WHERE connection_id = c.id AND proof IN ('dns', 'staff') ORDER BY domain)), '') AS domains,
			coalesce((SELECT group_concat(domain, ' ') FROM (SELECT domain FROM sso_domains WHERE connection_id = c.id AND proof = 'dns' ORDER BY domain)), '') AS dns_proven
			FROM sso_connections AS c WHERE c.tenant_id = ?`, owner.ID).Take(&row).Error
	}
	if err != nil {
		return nil, notFound(err, "load sso connection in force")
	}
	// group_concat keeps no promised order on SQLite; both lists are sorted,
	// as Postgres's array_agg sorts them.
	domains, dnsProven := strings.Fields(row.Domains), strings.Fields(row.DNSProven)
	slices.Sort(domains)
	slices.Sort(dnsProven)
	return &SSOInForce{
		ConnectionID: row.ID, Owner: *owner, Inherited: owner.ID != l.Tenant().ID,
		Issuer: row.Issuer, ClientID: row.ClientID, JoinRole: Role(row.JoinRole), Required: row.Required,
		SecretSetAt: row.SecretSetAt, UpdatedAt: row.UpdatedAt,
		Domains: domains, DNSProven: dnsProven,
	}, nil
}

// SSOConnectionOf loads a tenant's own connection with its domains, or
// ErrNotFound. The sealed secret comes with it: only the tenant's own
// scope can read it, for its Settings and for a sign-in at its host.
func (s *Store) SSOConnectionOf(ctx context.Context, tenantID int64) (*SSOConnection, error) {
	var c SSOConnection
	if err := s.scoped(ctx, tenantID).Take(&c).Error; err != nil {
		return nil, notFound(err, "load sso connection")
	}
	if err := s.scoped(ctx, tenantID).Where("connection_id = ?", c.ID).Order("domain").Find(&c.Domains).Error; err != nil {
		return nil, fmt.Errorf("load sso domains: %w", err)
	}
	return &c, nil
}

// SSOConnectionInput is what an Admin submits on Settings → Single sign-on.
// SealedSecret is the client secret already sealed by the caller, or ""
// to keep the one saved.
type SSOConnectionInput struct {
	Issuer       string
	ClientID     string
	SealedSecret string
	Domains      string // as typed: separated by commas, spaces or lines
	JoinRole     Role
	Required     bool
}

// maxSSODomains bounds what one connection may claim.
const maxSSODomains = 20

// joinRoles are the roles a connection may give the people who join
// through it: never Super Admin, whose holders manage the company's tree.
var joinRoles = []Role{RoleViewer, RoleEditor, RoleAdmin}

func (in *SSOConnectionInput) validate(existing *SSOConnection) ([]string, FieldErrors) {
	errs := FieldErrors{}
	in.Issuer = strings.TrimSpace(in.Issuer)
	in.ClientID = strings.TrimSpace(in.ClientID)
	if msg := ValidateIssuer(in.Issuer); msg != "" {
		errs["issuer"] = msg
	}
	switch {
	case in.ClientID == "":
		errs["client_id"] = "Enter the client ID your identity provider gave you."
	case len(in.ClientID) > 255:
		errs["client_id"] = "Use at most 255 characters."
	}
	if in.SealedSecret == "" && existing == nil {
		errs["client_secret"] = "Enter the client secret your identity provider gave you."
	}
	if !slices.Contains(joinRoles, in.JoinRole) {
		errs["join_role"] = "Choose Viewer, Editor or Admin."
	}
	domains, msg := ParseDomains(in.Domains)
	if msg != "" {
		errs["domains"] = msg
	}
	return domains, errs
}

// ValidateIssuer returns a message fit to show beside the issuer field, or
// "". An issuer is an https URL without query or fragment; plain http is
// accepted only for a provider on this machine (a development one).
func ValidateIssuer(raw string) string {
	if raw == "" {
		return "Enter your identity provider's issuer URL."
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil {
		return "Enter a URL like https://login.example.com."
	}
	// A bare "?" or "#" parses as no query or fragment, but stays in the
	// text, which must match the issuer the provider's tokens name exactly.
	if strings.ContainsAny(raw, "?#") {
		return "The issuer URL has no query or fragment."
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return "Use https: only an identity provider on this machine may use http."
	}
	if len(raw) > 500 {
		return "Use at most 500 characters."
	}
	return ""
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParseDomains reads email domains as typed (commas, spaces or lines
// between them, an optional leading @), lowercased and without repeats, or
// a message fit to show beside the field.
func ParseDomains(raw string) ([]string, string) {
	fields := strings.FieldsFunc(strings.ToLower(raw), func(r rune) bool {
		return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\r' || r == '\t'
	})
	var out []string
	for _, f := range fields {
		d := strings.TrimSuffix(strings.TrimPrefix(f, "@"), ".")
		if msg := validateDomain(d); msg != "" {
			return nil, fmt.Sprintf("%q: %s", f, msg)
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return nil, "Enter at least one email domain, like example.com."
	}
	if len(out) > maxSSODomains {
		return nil, fmt.Sprintf("Use at most %d domains.", maxSSODomains)
	}
	slices.Sort(out)
	return out, ""
}

func validateDomain(d string) string {
	if len(d) > 253 || !strings.Contains(d, ".") {
		return "is not a domain name like example.com."
	}
	for _, label := range strings.Split(d, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "is not a domain name like example.com."
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return "is not a domain name like example.com."
			}
		}
	}
	return ""
}

// ssoAuditFields is a connection as the audit log records it: never the
// secret, only when it was set. No connection is a nil interface, which the
// log keeps as no value (a nil map would be the JSON null).
func ssoAuditFields(c *SSOConnection) any {
	if c == nil {
		return nil
	}
	domains := make([]string, len(c.Domains))
	for i, d := range c.Domains {
		domains[i] = d.Domain
	}
	return map[string]any{
		"issuer": c.Issuer, "client_id": c.ClientID, "domains": strings.Join(domains, ", "),
		"join_role": c.JoinRole, "required": c.Required, "client_secret_set_at": c.SecretSetAt.UTC().Format(time.RFC3339),
	}
}

// SaveSSOConnection creates or changes a tenant's connection. Domains no
// longer listed are dropped with their proof; new ones start unproven,
// each with its own verification token. Audited, without the secret.
func (s *Store) SaveSSOConnection(ctx context.Context, tenantID int64, in SSOConnectionInput) (*SSOConnection, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	var saved *SSOConnection
	err := s.Tx(ctx, func(tx *Store) error {
		if err := tx.lockTenantRow(ctx, tenantID); err != nil {
			return err
		}
		existing, err := tx.SSOConnectionOf(ctx, tenantID)
		if errors.Is(err, ErrNotFound) {
			existing = nil
		} else if err != nil {
			return err
		}
		domains, errs := in.validate(existing)
		if err := errs.Err(); err != nil {
			return err
		}
		now := time.Now().UTC()
		c := &SSOConnection{TenantID: tenantID, CreatedAt: now}
		if existing != nil {
			copied := *existing
			c = &copied
		}
		c.Issuer, c.ClientID, c.JoinRole, c.Required, c.UpdatedAt = in.Issuer, in.ClientID, in.JoinRole, in.Required, now
		if in.SealedSecret != "" {
			c.ClientSecretSealed, c.SecretSetAt = in.SealedSecret, now
		}
		if err := tx.scoped(ctx, tenantID).Omit("Domains").Save(c).Error; err != nil {
			return fmt.Errorf("save sso connection: %w", err)
		}
		if err := tx.syncDomains(ctx, c, domains); err != nil {
			return err
		}
		if saved, err = tx.SSOConnectionOf(ctx, tenantID); err != nil {
			return err
		}
		before, after := onlyChanged(ssoAuditFields(existing), ssoAuditFields(saved))
		if b, ok := before.(map[string]any); ok && in.SealedSecret != "" {
			// Replaced within the same second, its date alone would not show it.
			b["client_secret"], after.(map[string]any)["client_secret"] = "earlier one", "replaced"
		}
		return tx.audit(ctx, tenantID, AuditSSOConnectionSaved, AuditTarget{Type: "sso_connection", ID: c.ID, Label: c.Issuer}, before, after)
	})
	return saved, err
}

// onlyChanged keeps the fields whose value differs between a connection's
// audit fields before and after, so the audit log shows what a save
// changed, not what it kept. No before (a creation) keeps everything.
func onlyChanged(before, after any) (any, any) {
	b, okB := before.(map[string]any)
	a, okA := after.(map[string]any)
	if !okB || !okA {
		return before, after
	}
	keptBefore, keptAfter := map[string]any{}, map[string]any{}
	for k, v := range a {
		if fmt.Sprint(b[k]) != fmt.Sprint(v) {
			keptBefore[k], keptAfter[k] = b[k], v
		}
	}
	return keptBefore, keptAfter
}

// lockTenantRow takes the tenant's row lock, so two saves of its
// connection take turns instead of both inserting it.
func (s *Store) lockTenantRow(ctx context.Context, tenantID int64) error {
	var t Tenant
	return notFound(s.forUpdate(s.conn(ctx).Where("id = ?", tenantID)).Take(&t).Error, "lock tenant")
}

func (s *Store) syncDomains(ctx context.Context, c *SSOConnection, domains []string) error {
	var have []string
	for _, d := range c.Domains {
		if !slices.Contains(domains, d.Domain) {
			if err := s.scoped(ctx, c.TenantID).Where("id = ?", d.ID).Delete(&SSODomain{}).Error; err != nil {
				return fmt.Errorf("remove sso domain: %w", err)
			}
			continue
		}
		have = append(have, d.Domain)
	}
	for _, d := range domains {
		if slices.Contains(have, d) {
			continue
		}
		row := &SSODomain{TenantID: c.TenantID, ConnectionID: c.ID, Domain: d, VerificationToken: newVerificationToken(),
			Proof: ProofNone, CreatedAt: time.Now().UTC()}
		if err := s.conn(ctx).Create(row).Error; err != nil {
			return fmt.Errorf("add sso domain: %w", err)
		}
	}
	return nil
}

func newVerificationToken() string {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// DeleteSSOConnection removes a tenant's connection and its domains; the
// identities people signed in with stay linked to their accounts.
func (s *Store) DeleteSSOConnection(ctx context.Context, tenantID int64) error {
	return s.Tx(ctx, func(tx *Store) error {
		existing, err := tx.SSOConnectionOf(ctx, tenantID)
		if err != nil {
			return err
		}
		res := tx.scoped(ctx, tenantID).Where("id = ?", existing.ID).Delete(&SSOConnection{})
		if err := changed(res, "delete sso connection"); err != nil {
			return err
		}
		return tx.audit(ctx, tenantID, AuditSSOConnectionDeleted, AuditTarget{Type: "sso_connection", ID: existing.ID, Label: existing.Issuer},
			ssoAuditFields(existing), nil)
	})
}

// SetSSOInherit makes a tenant inherit its parent's connection, or use its
// own; its own connection, if any, stays saved either way.
func (s *Store) SetSSOInherit(ctx context.Context, tenantID int64, inherit bool) error {
	return s.Tx(ctx, func(tx *Store) error {
		t, err := tx.TenantByID(ctx, tenantID)
		if err != nil {
			return err
		}
		if t.IsPlatform() || t.SSOInherit == inherit {
			return nil
		}
		if err := tx.updateTenant(ctx, tenantID, map[string]any{"sso_inherit": inherit}); err != nil {
			return err
		}
		return tx.audit(ctx, tenantID, AuditSSOInheritanceChanged, t.target(),
			map[string]any{"sso_inherit": t.SSOInherit}, map[string]any{"sso_inherit": inherit})
	})
}

// SSODomainOf loads one domain of a tenant's connection, or ErrNotFound.
func (s *Store) SSODomainOf(ctx context.Context, tenantID, domainID int64) (*SSODomain, error) {
	var d SSODomain
	err := s.scoped(ctx, tenantID).Where("id = ?", domainID).Take(&d).Error
	return &d, notFound(err, "load sso domain")
}

// MarkDomainProvenByDNS records that the domain's TXT record was seen. It
// proves the domain whatever staff decided; seen again, it changes nothing.
func (s *Store) MarkDomainProvenByDNS(ctx context.Context, tenantID, domainID int64) error {
	return s.setDomainProof(ctx, tenantID, domainID, ProofDNS, "", AuditSSODomainVerified)
}

// DecideSSODomain is platform staff approving or refusing a domain a
// company claims but cannot prove by DNS; note says why. Only a domain
// still waiting is decided: one decided or proven by DNS since the page
// was shown is ErrChangedMeanwhile, never overruled by a stale page.
func (s *Store) DecideSSODomain(ctx context.Context, tenantID, domainID int64, approve bool, note string) error {
	proof, action := ProofRefused, AuditSSODomainRefused
	if approve {
		proof, action = ProofStaff, AuditSSODomainApproved
	}
	note = strings.TrimSpace(note)
	if !approve && note == "" {
		return FieldErrors{"note": "Say why, so the company knows what to do."}
	}
	if len(note) > 500 {
		return FieldErrors{"note": "Use at most 500 characters."}
	}
	return s.setDomainProof(ctx, tenantID, domainID, proof, note, action)
}

func (s *Store) setDomainProof(ctx context.Context, tenantID, domainID int64, proof DomainProof, note, action string) error {
	return s.Tx(ctx, func(tx *Store) error {
		d, err := tx.SSODomainOf(ctx, tenantID, domainID)
		if err != nil {
			return err
		}
		switch {
		case proof == ProofDNS && d.Proof == ProofDNS:
			return nil
		case proof != ProofDNS && d.Proof != ProofNone:
			return fmt.Errorf("decide sso domain: %w", ErrChangedMeanwhile)
		}
		if proof == ProofStaff {
			if err := tx.refuseClaimedElsewhere(ctx, d); err != nil {
				return err
			}
		}
		var provenAt *time.Time
		if proof == ProofDNS || proof == ProofStaff {
			now := time.Now().UTC()
			provenAt = &now
		}
		res := tx.scoped(ctx, tenantID).Model(&SSODomain{}).Where("id = ? AND proof = ?", d.ID, d.Proof).
			Updates(map[string]any{"proof": proof, "proof_note": note, "proven_at": provenAt})
		if err := changed(res, "set sso domain proof"); err != nil {
			return err
		}
		return tx.audit(ctx, tenantID, action, AuditTarget{Type: "sso_domain", ID: d.ID, Label: d.Domain},
			map[string]any{"proof": d.Proof}, map[string]any{"proof": proof, "note": note})
	})
}

// refuseClaimedElsewhere stops staff approving a domain that another
// company's connection has already proven: its identity provider would
// then speak for that company's people. DNS proof is the domain owner's
// own word and is never refused; staff approval is a judgement, and the
// earlier proof wins it. Staff's scope sees every company's domains.
func (s *Store) refuseClaimedElsewhere(ctx context.Context, d *SSODomain) error {
	var owner struct{ Name string }
	err := s.conn(ctx).Table("sso_domains").Joins("JOIN tenants ON tenants.id = sso_domains.tenant_id").
		Where("sso_domains.domain = ? AND sso_domains.connection_id <> ? AND sso_domains.proof IN ?", d.Domain, d.ConnectionID, []DomainProof{ProofDNS, ProofStaff}).
		Select("tenants.name").Limit(1).Scan(&owner).Error
	if err != nil {
		return fmt.Errorf("look for other claims of %s: %w", d.Domain, err)
	}
	if owner.Name != "" {
		return FieldErrors{"note": d.Domain + " is already proven for " + owner.Name + "'s single sign-on: approving it here would let another identity provider sign in its people. Refuse it instead."}
	}
	return nil
}

// WasRemovedFrom tells whether the user was removed from the tenant, or
// left it, and has not been added back since: single sign-on never brings
// such a person back on its own; someone there must add or invite them.
func (s *Store) WasRemovedFrom(ctx context.Context, tenantID, userID int64) (bool, error) {
	var n int64
	err := s.scoped(ctx, tenantID).Table("audit_events").
		Where("action IN ? AND target_type = 'user' AND target_id = ?", []string{AuditMemberRemoved, AuditMemberLeft}, strconv.FormatInt(userID, 10)).
		Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("look for a removal: %w", err)
	}
	return n > 0, nil
}

// PendingSSODomain is a domain waiting for platform staff, with its company.
type PendingSSODomain struct {
	SSODomain
	TenantName      string
	TenantSubdomain string
	Issuer          string
}

// PendingSSODomains lists the domains companies claim and have not proven,
// oldest first, for platform staff; only the platform's scope sees them
// all (on Postgres by policy: the platform's subtree is every company).
func (s *Store) PendingSSODomains(ctx context.Context, platformID int64, page PageRequest) (Page[PendingSSODomain], error) {
	out := Page[PendingSSODomain]{PageRequest: page}
	if platformID <= 0 {
		return out, ErrNoTenant
	}
	q := s.conn(ctx).Table("sso_domains").
		Joins("JOIN tenants ON tenants.id = sso_domains.tenant_id").
		Joins("JOIN sso_connections ON sso_connections.id = sso_domains.connection_id").
		Where("sso_domains.proof = ?", ProofNone)
	if err := q.Count(&out.Total).Error; err != nil {
		return out, fmt.Errorf("count pending sso domains: %w", err)
	}
	err := q.Select("sso_domains.*, tenants.name AS tenant_name, tenants.subdomain AS tenant_subdomain, sso_connections.issuer AS issuer").
		Order("sso_domains.created_at, sso_domains.id").Limit(page.Size).Offset(page.Offset()).Scan(&out.Items).Error
	if err != nil {
		return out, fmt.Errorf("list pending sso domains: %w", err)
	}
	return out, nil
}

// IdentityUser is the account an identity (issuer, subject) is linked to,
// or ErrNotFound.
func (s *Store) IdentityUser(ctx context.Context, issuer, subject string) (int64, error) {
	var id *int64
	var err error
	if s.Dialect() == Postgres {
		err = s.conn(ctx).Raw("SELECT canopy_identity_user(?, ?)", issuer, subject).Scan(&id).Error
	} else {
		err = s.conn(ctx).Raw("SELECT user_id FROM user_identities WHERE issuer = ? AND subject = ?", issuer, subject).Scan(&id).Error
	}
	if err != nil {
		return 0, fmt.Errorf("find identity: %w", err)
	}
	if id == nil {
		return 0, fmt.Errorf("find identity: %w", ErrNotFound)
	}
	return *id, nil
}

// LinkIdentity links an identity to the user the request is scoped as, or
// notes its latest use; linked tells whether it is new. An identity linked
// to someone else is never moved to them. On Postgres userID must be the
// scope's user. A refusal rolls back only this (a savepoint in a request),
// so the request can still show a page saying so.
func (s *Store) LinkIdentity(ctx context.Context, userID int64, issuer, subject, email string) (linked bool, err error) {
	err = s.Tx(ctx, func(tx *Store) error {
		if s.Dialect() == Postgres {
			return tx.conn(ctx).Raw("SELECT canopy_link_identity(?, ?, ?, ?)", userID, issuer, subject, email).Scan(&linked).Error
		}
		res := tx.conn(ctx).Exec("UPDATE user_identities SET email = ?, last_used_at = ? WHERE issuer = ? AND subject = ? AND user_id = ?",
			email, time.Now().UTC(), issuer, subject, userID)
		if res.Error != nil || res.RowsAffected > 0 {
			return res.Error
		}
		linked = true
		return tx.conn(ctx).Exec("INSERT INTO user_identities (user_id, issuer, subject, email) VALUES (?, ?, ?, ?)",
			userID, issuer, subject, email).Error
	})
	return linked && err == nil, wrapErr(err, "link identity")
}

func wrapErr(err error, what string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// HasPassword tells whether the user the request is scoped as can sign in
// with a password.
func (s *Store) HasPassword(ctx context.Context, userID int64) (bool, error) {
	var has bool
	var err error
	if s.Dialect() == Postgres {
		err = s.conn(ctx).Raw("SELECT canopy_has_password(?)", userID).Scan(&has).Error
	} else {
		err = s.conn(ctx).Raw("SELECT EXISTS (SELECT 1 FROM user_passwords WHERE user_id = ?)", userID).Scan(&has).Error
	}
	return has, wrapErr(err, "check password")
}

// SignInMethod is how a member signs in.
type SignInMethod struct {
	Password bool
	SSO      bool
}

// Label is the method as the Team page shows it.
func (m SignInMethod) Label() string {
	switch {
	case m.Password && m.SSO:
		return "Password and SSO"
	case m.SSO:
		return "SSO"
	case m.Password:
		return "Password"
	}
	return "Not yet"
}

// SignInMethods tells how each of the given people who is a member of the
// tenant signs in: a page asks for its own rows only, so the cost is the
// page's, however big the team.
func (s *Store) SignInMethods(ctx context.Context, tenantID int64, userIDs []int64) (map[int64]SignInMethod, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	out := make(map[int64]SignInMethod, len(userIDs))
	if len(userIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		UserID                   int64
		HasPassword, HasIdentity bool
	}
	var err error
	if s.Dialect() == Postgres {
		ids := make([]string, len(userIDs))
		for i, id := range userIDs {
			ids[i] = strconv.FormatInt(id, 10)
		}
		// An array literal: GORM would spread a slice into a list.
		err = s.conn(ctx).Raw("SELECT user_id, has_password, has_identity FROM canopy_sign_in_methods(?, ?::bigint[])",
			tenantID, "{"+strings.Join(ids, ",")+"}").Scan(&rows).Error
	} else {
		err = s.scoped(ctx, tenantID).Table("memberships").Where("user_id IN ?", userIDs).Select(`user_id,
			EXISTS (SELECT 1 FROM user_passwords AS p WHERE p.user_id = memberships.user_id) AS has_password,
			EXISTS (SELECT 1 FROM user_identities AS i WHERE i.user_id = memberships.user_id) AS has_identity`).Scan(&rows).Error
	}
	if err != nil {
		return nil, fmt.Errorf("load sign-in methods: %w", err)
	}
	for _, r := range rows {
		out[r.UserID] = SignInMethod{Password: r.HasPassword, SSO: r.HasIdentity}
	}
	return out, nil
}

// CreateSSOUser makes the account of someone new whom a connection signed
// in: active, without a password (they sign in through their provider).
func (s *Store) CreateSSOUser(ctx context.Context, email, firstName, lastName string) (*User, error) {
	n := NewUser{Email: NormalizeEmail(email), FirstName: strings.TrimSpace(firstName), LastName: strings.TrimSpace(lastName)}
	if msg := ValidateEmail(n.Email); msg != "" {
		return nil, FieldErrors{"email": msg}
	}
	errs := FieldErrors{}
	validatePersonName(errs, &n.FirstName, &n.LastName, false, false)
	if len(errs) > 0 {
		n.FirstName, n.LastName = "", ""
	}
	return s.createUserWithHash(ctx, n, "")
}

// JoinThroughSSO makes the user a member of the tenant with the
// connection's role; someone already a member keeps their role, also when
// another sign-in of theirs (a second tab) made them one a moment ago.
func (s *Store) JoinThroughSSO(ctx context.Context, tenantID, userID int64, role Role) (joined bool, err error) {
	if !slices.Contains(joinRoles, role) {
		return false, fmt.Errorf("join through sso: role %q: %w", role, ErrNotAllowed)
	}
	_, err = s.MembershipOf(ctx, tenantID, userID)
	if err == nil {
		return false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return false, err
	}
	errJoinedMeanwhile := errors.New("joined meanwhile")
	err = s.Tx(ctx, func(tx *Store) error {
		m := &Membership{TenantID: tenantID, UserID: userID, Role: role}
		if err := tx.conn(ctx).Create(m).Error; err != nil {
			if violatesUnique(err, "memberships_tenant_user_key") {
				return errJoinedMeanwhile
			}
			return fmt.Errorf("join through sso: %w", err)
		}
		return tx.auditUser(ctx, tenantID, AuditMemberAdded, userID, nil, map[string]any{"role": role, "through": "single sign-on"})
	})
	if errors.Is(err, errJoinedMeanwhile) {
		return false, nil
	}
	return err == nil, err
}
