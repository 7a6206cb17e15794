// Package demo loads the demonstration data (docs/product.md, Demo data), so
// a fresh `make run` has companies, sub-tenants and people to sign in as.
package demo

import (
	"canopy/internal/apikey"
	"context"
	"errors"
	"fmt"
	"time"

	"canopy/internal/devidp"
	"canopy/internal/webhook"
	"canopy/models"
)

// Password is every demo user's password.
const Password = "demo-password"

type person struct{ email, first, last string }

var people = []person{
	{"staff@canopy.test", "Casey", "Morgan"},
	{"alice@acme.test", "Alice", "Anderson"},
	{"bob@globex.test", "Bob", "Brown"},
	{"carol@initech.test", "Carol", "Chen"},
	{"dave@acme.test", "Dave", "Davis"},
	{"eve@acme.test", "Eve", "Evans"},
	{"frank@acme.test", "Frank", "Fischer"},
}

type company struct {
	name, subdomain, parent, owner, timezone, description string
	status                                                models.TenantStatus
	billingRollsUp                                        bool
	members                                               []member
	solutions                                             []models.Solution
}

type member struct {
	email string
	role  models.Role
}

// companies are in creation order: parents before children.
var companies = []company{
	{name: "Canopy Platform", subdomain: "admin", owner: "staff@canopy.test", timezone: "UTC",
		description: "The provider's own tenant: Customer Success staff.", status: models.TenantActive,
		solutions: models.Solutions},
	{name: "Acme Corp", subdomain: "acme", parent: "admin", owner: "alice@acme.test", timezone: "America/New_York",
		description: "Cold-chain logistics for pharmaceuticals.", status: models.TenantActive,
		members:   []member{{"bob@globex.test", models.RoleAdmin}, {"dave@acme.test", models.RoleViewer}},
		solutions: []models.Solution{models.SolutionColdChain, models.SolutionShipmentTracking}},
	{name: "Globex", subdomain: "globex", parent: "admin", owner: "bob@globex.test", timezone: "America/Chicago",
		description: "Global shipping and freight.", status: models.TenantActive,
		members: []member{{"alice@acme.test", models.RoleEditor}}},
	{name: "Initech", subdomain: "initech", parent: "admin", owner: "carol@initech.test", timezone: "America/Los_Angeles",
		description: "Enterprise software and TPS reports.", status: models.TenantActive,
		members: []member{{"alice@acme.test", models.RoleViewer}}},
	{name: "Acme Europe", subdomain: "acme-eu", parent: "acme", owner: "eve@acme.test", timezone: "Europe/Berlin",
		description: "Acme's European operations.", status: models.TenantActive, billingRollsUp: true,
		solutions: []models.Solution{models.SolutionColdChain}},
	{name: "Acme Lab", subdomain: "acme-lab", parent: "acme", owner: "frank@acme.test", timezone: "America/New_York",
		description: "Testing environment for new device models.", status: models.TenantInactive},
}

// Seed adds whatever demo data is missing and leaves the rest alone, so it is
// safe to run again; it never undoes changes made to existing demo records.
func Seed(ctx context.Context, store *models.Store) error {
	return store.Tx(ctx, func(tx *models.Store) error {
		users := map[string]*models.User{}
		for _, p := range people {
			u, err := ensureUser(ctx, tx, p)
			if err != nil {
				return err
			}
			users[p.email] = u
		}
		tenants := map[string]*models.Tenant{}
		for _, c := range companies {
			t, err := ensureTenant(ctx, tx, c, tenants, users)
			if err != nil {
				return err
			}
			tenants[c.subdomain] = t
			err = actingIn(ctx, tx, t.ID, func(ctx context.Context, tx *models.Store) error {
				for _, m := range c.members {
					if err := ensureMember(ctx, tx, t.ID, users[m.email].ID, m.role); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		err := actingIn(ctx, tx, tenants["acme"].ID, func(ctx context.Context, tx *models.Store) error {
			return ensureOrders(ctx, tx, tenants["acme"], users)
		})
		if err != nil {
			return err
		}
		return actingIn(ctx, tx, tenants["acme-eu"].ID, func(ctx context.Context, tx *models.Store) error {
			return ensureDevices(ctx, tx, tenants["acme-eu"])
		})
	})
}

// actingIn runs fn as a Super Admin's request of the tenant's own host
// would: under Postgres row-level security, a company's rows (and its new
// sub-tenants') can only be written so.
func actingIn(ctx context.Context, tx *models.Store, tenantID int64, fn func(context.Context, *models.Store) error) error {
	return tx.Within(ctx, models.Scope{TenantID: tenantID, Subtree: true}, fn)
}

func ensureUser(ctx context.Context, tx *models.Store, p person) (*models.User, error) {
	u, err := tx.UserByEmail(ctx, p.email)
	if !errors.Is(err, models.ErrNotFound) {
		return u, err
	}
	u, err = tx.CreateUser(ctx, models.NewUser{Email: p.email, FirstName: p.first, LastName: p.last, Password: Password})
	if err != nil {
		return nil, fmt.Errorf("demo user %s: %w", p.email, err)
	}
	return u, nil
}

func ensureTenant(ctx context.Context, tx *models.Store, c company, tenants map[string]*models.Tenant, users map[string]*models.User) (*models.Tenant, error) {
	t, err := tx.TenantBySubdomain(ctx, c.subdomain)
	if !errors.Is(err, models.ErrNotFound) {
		return t, err
	}
	n := models.NewTenant{
		Name: c.name, Subdomain: c.subdomain, Description: c.description, ContactEmail: c.owner,
		Timezone: c.timezone, OwnerUserID: users[c.owner].ID,
	}
	if c.parent == "" {
		t, err = tx.CreateTenant(ctx, n) // the root: nothing above it to act in
	} else {
		n.ParentID = tenants[c.parent].ID
		if c.billingRollsUp {
			n.BillToTenantID = n.ParentID
		}
		err = actingIn(ctx, tx, n.ParentID, func(ctx context.Context, tx *models.Store) error {
			t, err = tx.CreateTenant(ctx, n)
			return err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("demo tenant %s: %w", c.subdomain, err)
	}
	err = actingIn(ctx, tx, t.ID, func(ctx context.Context, tx *models.Store) error {
		if err := tx.EnableSolutions(ctx, t.ID, c.solutions); err != nil {
			return err
		}
		if c.status != models.TenantActive {
			return tx.SetTenantStatus(ctx, t.ID, c.status)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	t.Status = c.status
	return t, nil
}

func ensureMember(ctx context.Context, tx *models.Store, tenantID, userID int64, role models.Role) error {
	_, err := tx.MembershipOf(ctx, tenantID, userID)
	if !errors.Is(err, models.ErrNotFound) {
		return err
	}
	_, err = tx.AddMember(ctx, tenantID, userID, role)
	return err
}

// Acme's templates and orders: two templates branded "Acme Corp"
// and a handful of orders by alice and bob in every status.
var templates = []models.NewTemplate{
	{Name: "Employment verification", BrandingCompanyName: "Acme Corp", BrandColor: "#0f766e", Collects: []string{"employment", "identity"}},
	{Name: "Income verification", BrandingCompanyName: "Acme Corp", BrandColor: "#1d4ed8", Collects: []string{"employment", "income", "assets"}},
}

type order struct {
	reference, applicant, email, template, by string
	status                                    models.OrderStatus
}

var orders = []order{
	{"ACME-1001", "Maria Garcia", "maria.garcia@example.com", "Employment verification", "alice@acme.test", models.OrderCompleted},
	{"ACME-1002", "James Wilson", "james.wilson@example.com", "Income verification", "bob@globex.test", models.OrderInProgress},
	{"ACME-1003", "Priya Patel", "", "Employment verification", "alice@acme.test", models.OrderCompleted},
	{"ACME-1004", "Chen Wei", "chen.wei@example.com", "Income verification", "alice@acme.test", models.OrderCancelled},
	{"ACME-1005", "Olivia Brown", "olivia.brown@example.com", "Income verification", "bob@globex.test", models.OrderPending},
	{"ACME-1006", "Noah Johnson", "", "Employment verification", "bob@globex.test", models.OrderPending},
}

func ensureOrders(ctx context.Context, tx *models.Store, acme *models.Tenant, users map[string]*models.User) error {
	byName := map[string]int64{}
	for _, n := range templates {
		t, err := tx.TemplateByName(ctx, acme.ID, n.Name)
		if errors.Is(err, models.ErrNotFound) {
			t, err = tx.CreateTemplate(ctx, acme.ID, users["alice@acme.test"].ID, n)
		}
		if err != nil {
			return fmt.Errorf("demo template %s: %w", n.Name, err)
		}
		byName[n.Name] = t.ID
	}
	for _, o := range orders {
		_, err := tx.OrderByReference(ctx, acme.ID, o.reference)
		if !errors.Is(err, models.ErrNotFound) {
			if err != nil {
				return err
			}
			continue
		}
		m, err := tx.MembershipOf(ctx, acme.ID, users[o.by].ID)
		if err != nil {
			return fmt.Errorf("demo order %s: %w", o.reference, err)
		}
		// Orders of the past: their applicants are not emailed now. Each
		// step, creation included, is recorded as its creator's.
		byCreator := models.WithActor(ctx, models.Actor{UserID: users[o.by].ID, Email: users[o.by].Email})
		created, err := tx.CreateOrder(byCreator, acme.ID, m.ID, models.NewOrder{
			TemplateID: byName[o.template], ApplicantName: o.applicant, ApplicantEmail: o.email, Reference: o.reference,
		}, nil)
		if err != nil {
			return fmt.Errorf("demo order %s: %w", o.reference, err)
		}
		for _, step := range models.OrderPending.PathTo(o.status) {
			if _, err := tx.ChangeOrderStatus(byCreator, acme.ID, created.ID, step); err != nil {
				return fmt.Errorf("demo order %s: %w", o.reference, err)
			}
		}
	}
	return nil
}

// Acme Europe's devices: about 25 of a few models, registered over
// the past weeks, some inactive and two deprovisioned.
type device struct {
	identifier, model string
	status            models.DeviceStatus
}

var euDevices = []device{
	{"EU-TL100-0001", "Thermo Logger T-100", models.DeviceActive},
	{"EU-TL100-0002", "Thermo Logger T-100", models.DeviceActive},
	{"EU-TL100-0003", "Thermo Logger T-100", models.DeviceDeprovisioned},
	{"EU-GPS-0001", "GPS Tracker G2", models.DeviceActive},
	{"EU-TL100-0004", "Thermo Logger T-100", models.DeviceActive},
	{"EU-GPS-0002", "GPS Tracker G2", models.DeviceInactive},
	{"EU-TL100-0005", "Thermo Logger T-100", models.DeviceActive},
	{"EU-DS1-0001", "Door Sensor DS-1", models.DeviceActive},
	{"EU-GPS-0003", "GPS Tracker G2", models.DeviceActive},
	{"EU-TL100-0006", "Thermo Logger T-100", models.DeviceInactive},
	{"EU-DS1-0002", "Door Sensor DS-1", models.DeviceActive},
	{"EU-GPS-0004", "GPS Tracker G2", models.DeviceDeprovisioned},
	{"EU-TL200-0001", "Thermo Logger T-200", models.DeviceActive},
	{"EU-TL100-0007", "Thermo Logger T-100", models.DeviceActive},
	{"EU-GPS-0005", "GPS Tracker G2", models.DeviceActive},
	{"EU-DS1-0003", "Door Sensor DS-1", models.DeviceInactive},
	{"EU-TL200-0002", "Thermo Logger T-200", models.DeviceActive},
	{"EU-TL100-0008", "Thermo Logger T-100", models.DeviceActive},
	{"EU-GPS-0006", "GPS Tracker G2", models.DeviceActive},
	{"EU-TL200-0003", "Thermo Logger T-200", models.DeviceInactive},
	{"EU-DS1-0004", "Door Sensor DS-1", models.DeviceActive},
	{"EU-TL200-0004", "Thermo Logger T-200", models.DeviceActive},
	{"EU-TL100-0009", "Thermo Logger T-100", models.DeviceActive},
	{"EU-GPS-0007", "GPS Tracker G2", models.DeviceActive},
	{"EU-TL200-0005", "Thermo Logger T-200", models.DeviceActive},
}

// ensureDevices adds the demo devices Acme Europe lacks; devices it already
// has are left as they are, whatever happened to them since.
func ensureDevices(ctx context.Context, tx *models.Store, eu *models.Tenant) error {
	now := time.Now().UTC().Truncate(time.Minute)
	for i, d := range euDevices {
		_, err := tx.DeviceByIdentifier(ctx, eu.ID, d.identifier)
		if !errors.Is(err, models.ErrNotFound) {
			if err != nil {
				return err
			}
			continue
		}
		// Registered every other day or so, the last one yesterday.
		age := time.Duration(len(euDevices)-i)*47*time.Hour + time.Duration(i%5)*53*time.Minute
		n := models.NewDevice{Identifier: d.identifier, Model: d.model, Status: models.DeviceActive, CreatedAt: now.Add(-age)}
		if d.status == models.DeviceInactive {
			n.Status = models.DeviceInactive
		}
		created, err := tx.AddDevice(ctx, eu.ID, n)
		if err != nil {
			return fmt.Errorf("demo device %s: %w", d.identifier, err)
		}
		if d.status == models.DeviceDeprovisioned {
			if _, err := tx.DeprovisionDevice(ctx, eu.ID, created.ID); err != nil {
				return fmt.Errorf("demo device %s: %w", d.identifier, err)
			}
		}
	}
	return nil
}

// The development identity provider (`canopy devidp`) as the demo data
// configures it for Acme Corp.
const (
	DevIssuer       = "http://" + devidp.DefaultAddr + "/oidc"
	DevClientID     = devidp.DefaultClientID
	DevClientSecret = devidp.DefaultClientSecret
)

// SeedSSO gives Acme Corp a single sign-on connection to an identity
// provider for acme.test, approved as platform staff would (a demo domain
// cannot be proven in DNS), not required, so password sign-in still works;
// Acme Europe inherits it. seal seals the client secret for a tenant, with
// the server's key. A connection Acme already has is left alone.
func SeedSSO(ctx context.Context, store *models.Store, issuer, clientID string, seal func(tenantID int64) string) error {
	return store.Tx(ctx, func(tx *models.Store) error {
		acme, err := tx.TenantBySubdomain(ctx, "acme")
		if err != nil {
			return err
		}
		return actingIn(ctx, tx, acme.ID, func(ctx context.Context, tx *models.Store) error {
			if _, err := tx.SSOConnectionOf(ctx, acme.ID); err == nil {
				return nil
			} else if !errors.Is(err, models.ErrNotFound) {
				return err
			}
			conn, err := tx.SaveSSOConnection(ctx, acme.ID, models.SSOConnectionInput{
				Issuer: issuer, ClientID: clientID, SealedSecret: seal(acme.ID), Domains: "acme.test", JoinRole: models.RoleViewer,
			})
			if err != nil {
				return err
			}
			for _, d := range conn.Domains {
				if err := tx.DecideSSODomain(ctx, acme.ID, d.ID, true, "Demo data"); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// SeedAPI gives Acme Corp a sandbox API key, "Demo integration", and the
// test orders an integration would have made with it, so the Orders page's
// Test data switch has something to show. hash is the server's keyed hash
// of a key; the key itself is thrown away, as nobody was shown it. A
// company that has keys already is left alone.
func SeedAPI(ctx context.Context, store *models.Store, hash func(apikey.Key) string) error {
	return store.Tx(ctx, func(tx *models.Store) error {
		acme, err := tx.TenantBySubdomain(ctx, "acme")
		if err != nil {
			return err
		}
		return actingIn(ctx, tx, acme.ID, func(ctx context.Context, tx *models.Store) error {
			keys, err := tx.ListAPIKeys(ctx, acme.ID)
			if err != nil || len(keys) > 0 {
				return err
			}
			alice, err := tx.UserByEmail(ctx, "alice@acme.test")
			if err != nil {
				return err
			}
			ctx = models.WithActor(ctx, models.Actor{UserID: alice.ID, Email: alice.Email})
			k, err := apikey.New(false)
			if err != nil {
				return err
			}
			key, err := tx.CreateAPIKey(ctx, acme.ID, models.NewAPIKey{Name: "Demo integration", Environment: models.APISandbox,
				Scopes: []models.APIScope{models.ScopeOrdersRead, models.ScopeOrdersWrite}},
				models.HashedAPIKey{Hash: hash(k), Prefix: k.Prefix(), Last4: k.Last4()})
			if err != nil {
				return fmt.Errorf("demo api key: %w", err)
			}
			return ensureTestOrders(models.WithActor(ctx, models.Actor{Email: `API key "` + key.Name + `" (` + key.Masked() + `)`, APIKeyID: key.ID}), tx, acme, key)
		})
	})
}

// testOrders are what the demo integration made, and how far each went.
var testOrders = []struct {
	template, applicant, reference string
	status                         models.OrderStatus
}{
	{"Employment verification", "Test Applicant One", "SANDBOX-001", models.OrderPending},
	{"Employment verification", "Test Applicant Two", "SANDBOX-002", models.OrderInProgress},
	{"Income verification", "Test Applicant Three", "SANDBOX-003", models.OrderCompleted},
}

func ensureTestOrders(ctx context.Context, tx *models.Store, acme *models.Tenant, key *models.APIKey) error {
	for _, o := range testOrders {
		tpl, err := tx.TemplateByName(ctx, acme.ID, o.template)
		if err != nil {
			return fmt.Errorf("demo test order %s: %w", o.reference, err)
		}
		created, err := tx.CreateOrderByAPIKey(ctx, acme.ID, models.NewAPIOrder{
			NewOrder: models.NewOrder{TemplateID: tpl.ID, ApplicantName: o.applicant, Reference: o.reference},
			APIKeyID: key.ID, Environment: models.OrderTest,
		}, nil)
		if err != nil {
			return fmt.Errorf("demo test order %s: %w", o.reference, err)
		}
		if o.status != models.OrderPending {
			if _, err := tx.SimulateOrder(ctx, acme.ID, created.ID, o.status); err != nil {
				return fmt.Errorf("demo test order %s: %w", o.reference, err)
			}
		}
	}
	return nil
}

// SeedWebhooks gives Acme Corp a sandbox webhook endpoint at the
// development receiver (`canopy webhook-receiver`, make webhook-receiver),
// signing with its published secret, receiving every event. An endpoint
// Acme already has there is left alone. store must be configured with
// models.Store.WithWebhooks.
func SeedWebhooks(ctx context.Context, store *models.Store) error {
	url := "http://" + webhook.DevReceiverAddr + webhook.DevReceiverPath
	return store.Tx(ctx, func(tx *models.Store) error {
		acme, err := tx.TenantBySubdomain(ctx, "acme")
		if err != nil {
			return err
		}
		return actingIn(ctx, tx, acme.ID, func(ctx context.Context, tx *models.Store) error {
			existing, err := tx.ListWebhookEndpoints(ctx, acme.ID, models.WebhookSandbox)
			if err != nil {
				return err
			}
			for _, e := range existing {
				if e.URL == url {
					return nil
				}
			}
			events := make([]string, len(models.WebhookEventTypes))
			for i, e := range models.WebhookEventTypes {
				events[i] = e.Type
			}
			_, _, err = tx.CreateWebhookEndpoint(ctx, acme.ID, models.WebhookEndpointInput{Environment: models.WebhookSandbox,
				URL: url, Description: "The development receiver (make webhook-receiver)", Events: events, Secret: webhook.DevSecret})
			return err
		})
	})
}
