package handlers

import (
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"canopy/internal/apikey"
	"canopy/internal/config"
	"canopy/internal/devicecookie"
	"canopy/internal/dnsproof"
	"canopy/internal/sealbox"
	"canopy/models"
	"canopy/static"
	"canopy/views"
)

// Handlers holds the dependencies every handler uses.
type Handlers struct {
	cfg     *config.Config
	store   *models.Store
	log     *slog.Logger
	secrets *config.Secrets
	cookies *sessions.CookieStore
	devices devicecookie.Signer
	sealer  *sealbox.Box // seals single sign-on client secrets at rest
	// relyingParty runs passkeys' ceremonies (passkey_handlers.go).
	relyingParty *webauthn.WebAuthn
	dns          *dnsproof.Checker // looks up the TXT records that prove a company's email domain
	// APIKeys computes the keyed hash an API key is stored and found by.
	APIKeys apikey.Hasher
	// apiLimit is each API key's allowance; the buckets are in the database.
	apiLimit models.APIRateLimit
	// ssoProviders caches identity providers' discovery documents and keys.
	ssoProviders *ssoProviders
	now          func() time.Time
	requestIDs   *requestIDs  // each request's id, for its log lines and error page
	metrics      *httpMetrics // nil unless RecordMetrics was called
	// refreshing is set while staff's billing figures are being refreshed.
	refreshing atomic.Bool
	access     map[string]accessRule // "METHOD /path" → who may call it
	echo       *echo.Echo
	hostname   string // the base domain's host, e.g. "localhost:8080"
	// tenantHints remembers the tenant id each subdomain was last found to
	// have, so a request can sign its scope before the database answers
	// (loadSession). A hint is never trusted: the frame reads the tenant
	// afresh, and a wrong hint costs one statement setting the right scope.
	tenantHints sync.Map
	// draining is set once the process is told to stop: /readyz says so.
	draining atomic.Bool
}

// New wires the router. It is the only place routes are declared.
func New(cfg *config.Config, store *models.Store, secrets *config.Secrets, log *slog.Logger) *Handlers {
	h := &Handlers{
		cfg:          cfg,
		store:        store,
		log:          log,
		secrets:      secrets,
		cookies:      newCookieStore(cfg, secrets),
		devices:      devicecookie.NewSigner(secrets.Device),
		sealer:       mustSealBox(secrets.SSOClientSecret),
		relyingParty: mustRelyingParty(cfg),
		dns:          dnsproof.NewChecker(cfg.DNSResolver, dnsCheckTimeout),
		APIKeys:      apikey.NewHasher(secrets.APIKeyHash),
		apiLimit:     models.DefaultAPIRateLimit,
		ssoProviders: newSSOProviders(providerAddresses{development: !cfg.Secure(), allowed: cfg.SSOPrivateNetworks}),
		now:          time.Now,
		requestIDs:   newRequestIDs(),
		access:       map[string]accessRule{},
		hostname:     cfg.BaseURL.Host,
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = ipExtractor(cfg)
	e.HTTPErrorHandler = h.handleError
	h.echo = e

	e.Use(h.logRequests, h.recoverPanics, h.securityHeaders, middleware.BodyLimit("2M"))
	e.GET("/healthz", h.health)
	e.GET("/readyz", h.ready)
	e.GET(static.Prefix+"*", echo.WrapHandler(static.Handler()))
	h.access["GET /healthz"] = accessRule{public: true}
	h.access["GET /readyz"] = accessRule{public: true}
	h.access["GET "+static.Prefix+"*"] = accessRule{public: true}

	site := e.Group("", h.inTransaction, h.readHost, h.loadSession, h.refuseInactiveTenant, h.requireTwoFactor, h.setActor, h.checkCSRF)
	h.publicRoute(site, http.MethodGet, "/", h.root)
	h.publicRoute(site, http.MethodGet, "/login", h.loginForm)
	h.publicRoute(site, http.MethodPost, "/login", h.login)
	h.publicRoute(site, http.MethodPost, "/logout", h.logout)
	h.publicRoute(site, http.MethodGet, "/auth/handoff/begin", h.beginHandoff)
	h.publicRoute(site, http.MethodGet, "/auth/handoff", h.redeemHandoff)
	h.publicRoute(site, http.MethodGet, "/login/sso", h.ssoCompany)
	h.publicRoute(site, http.MethodGet, forgotPath, h.forgotForm)
	h.publicRoute(site, http.MethodPost, forgotPath, h.forgotPassword)
	h.publicRoute(site, http.MethodGet, resetPathBase+":token", h.resetForm)
	h.publicRoute(site, http.MethodPost, resetPathBase+":token", h.resetPassword)
	h.publicRoute(site, http.MethodGet, "/auth/sso", h.startSSO)
	h.publicRoute(site, http.MethodGet, "/auth/sso/begin", h.beginSSO)
	h.publicRoute(site, http.MethodGet, ssoCallbackPath, h.ssoCallback)
	h.publicRoute(site, http.MethodPost, "/auth/sso/link", h.linkAccount)
	h.publicRoute(site, http.MethodGet, "/go/:subdomain", h.goToCompany)
	h.publicRoute(site, http.MethodGet, "/invitations/:token", h.invitation)
	h.publicRoute(site, http.MethodPost, "/invitations/:token/accept", h.acceptInvitation)
	h.publicRoute(site, http.MethodPost, "/invitations/:token/decline", h.declineInvitation)
	h.accountRoute(site, http.MethodGet, passwordPath, h.passwordForm)
	h.accountRoute(site, http.MethodPost, passwordPath, h.changePassword)
	h.accountRoute(site, http.MethodGet, views.AccountConfirmPath, h.confirmForm)
	h.accountRoute(site, http.MethodPost, views.AccountConfirmPath, h.confirm)
	h.accountRoute(site, http.MethodGet, views.AccountActivityPath, h.accountActivity)
	h.accountRoute(site, http.MethodGet, profilePath, h.profile)
	h.accountRoute(site, http.MethodPost, profilePath+"/name", h.saveProfileName)
	h.accountRoute(site, http.MethodPost, profilePath+"/email", h.requestEmailChange)
	h.accountRoute(site, http.MethodPost, profilePath+"/email/cancel", h.cancelEmailChange)
	h.accountRoute(site, http.MethodPost, profilePath+"/time-zone", h.saveTimeZone)
	h.publicRoute(site, http.MethodGet, emailConfirmPathBase+":token", h.emailConfirmForm)
	h.accountRoute(site, http.MethodPost, emailConfirmPathBase+":token", h.confirmEmailChange)
	h.accountRoute(site, http.MethodGet, sessionsPath, h.accountSessions)
	h.accountRoute(site, http.MethodPost, sessionsPath+"/end-others", h.endOtherSessions)
	h.accountRoute(site, http.MethodPost, sessionsPath+"/:id/end", h.endSession)
	// Two-factor sign-in (two_factor_handlers.go): the account's pages, and
	// the sign-in's second step on the base domain.
	h.accountRoute(site, http.MethodGet, views.AccountTwoFactorPath, h.twoFactor)
	h.accountRoute(site, http.MethodGet, views.AccountTwoFactorSetupPath, h.twoFactorSetup)
	h.accountRoute(site, http.MethodPost, views.AccountTwoFactorSetupPath, h.confirmTwoFactor)
	h.accountRoute(site, http.MethodPost, views.AccountTwoFactorPath+"/disable", h.disableTwoFactor)
	h.accountRoute(site, http.MethodPost, views.AccountRecoveryCodesPath, h.newRecoveryCodesPage)
	h.publicRoute(site, http.MethodGet, views.LoginTwoFactorPath, h.secondFactorForm)
	h.publicRoute(site, http.MethodPost, views.LoginTwoFactorPath, h.verifySecondFactor)
	h.publicRoute(site, http.MethodPost, views.LoginTwoFactorPath+"/passkey/begin", h.beginSecondFactorPasskey)
	h.publicRoute(site, http.MethodPost, views.LoginTwoFactorPath+"/passkey", h.verifySecondFactorPasskey)
	// Passkeys (passkey_handlers.go): the account's own, signing in with
	// one on the base domain, and confirming it is you with one.
	h.accountRoute(site, http.MethodGet, views.AccountPasskeysPath, h.passkeysPage)
	h.accountRoute(site, http.MethodGet, views.AccountPasskeysPath+"/new", h.newPasskeyForm)
	h.accountRoute(site, http.MethodPost, views.AccountPasskeysPath+"/new/begin", h.beginAddPasskey)
	h.accountRoute(site, http.MethodPost, views.AccountPasskeysPath+"/new", h.addPasskey)
	h.accountRoute(site, http.MethodPost, views.AccountPasskeysPath+"/:id/rename", h.renamePasskey)
	h.accountRoute(site, http.MethodPost, views.AccountPasskeysPath+"/:id/remove", h.removePasskey)
	h.accountRoute(site, http.MethodPost, views.AccountConfirmPath+"/passkey/begin", h.beginConfirmWithPasskey)
	h.accountRoute(site, http.MethodPost, views.AccountConfirmPath+"/passkey", h.confirmWithPasskey)
	h.publicRoute(site, http.MethodPost, "/login/passkey/begin", h.beginPasskeySignIn)
	h.publicRoute(site, http.MethodPost, "/login/passkey", h.passkeySignIn)
	h.accountRoute(site, http.MethodPost, "/companies/:id/leave", h.leaveCompany)
	h.accountRoute(site, http.MethodPost, "/companies/:id/acknowledge", h.acknowledgeAddition)

	h.tenantRoute(site, http.MethodGet, "/companies", models.PermView, h.companies)
	h.tenantRoute(site, http.MethodGet, "/settings/team", models.PermView, h.team)
	h.tenantRoute(site, http.MethodGet, "/settings/team/new", models.PermManageMembers, h.newMemberForm)
	h.tenantRoute(site, http.MethodPost, "/settings/team", models.PermManageMembers, h.addMember)
	h.tenantRoute(site, http.MethodGet, "/settings/team/members/:id/edit", models.PermManageMembers, h.editMemberForm)
	h.tenantRoute(site, http.MethodPost, "/settings/team/members/:id/edit", models.PermManageMembers, h.updateMember)
	h.tenantRoute(site, http.MethodPost, "/settings/team/members/:id/remove", models.PermManageMembers, h.removeMember)
	h.tenantRoute(site, http.MethodPost, "/settings/team/members/:id/owner", models.PermManageSubTenants, h.transferOwnership)
	h.tenantRoute(site, http.MethodPost, "/settings/team/invitations/:id/resend", models.PermManageMembers, h.resendInvitation)
	h.tenantRoute(site, http.MethodPost, "/settings/team/invitations/:id/revoke", models.PermManageMembers, h.revokeInvitation)
	h.tenantRoute(site, http.MethodGet, "/settings/company", models.PermView, h.companySettings)
	h.tenantRoute(site, http.MethodPost, "/settings/company", models.PermManageSettings, h.saveCompanySettings)
	h.tenantRoute(site, http.MethodPost, "/settings/company/two-factor", models.PermManageSettings, h.saveTwoFactorRule)
	h.tenantRoute(site, http.MethodGet, "/settings/sso", models.PermManageSettings, h.ssoSettings)
	h.tenantRoute(site, http.MethodPost, "/settings/sso", models.PermManageSettings, h.saveSSOSettings)
	h.tenantRoute(site, http.MethodPost, "/settings/sso/test", models.PermManageSettings, h.testSSOConnection)
	h.tenantRoute(site, http.MethodPost, "/settings/sso/inherit", models.PermManageSettings, h.setSSOInheritance)
	h.tenantRoute(site, http.MethodPost, "/settings/sso/delete", models.PermManageSettings, h.deleteSSOSettings)
	h.tenantRoute(site, http.MethodGet, "/settings/audit", models.PermManageSettings, h.auditLog)
	h.tenantRoute(site, http.MethodGet, "/settings/audit.csv", models.PermManageSettings, h.auditCSV)
	h.tenantRoute(site, http.MethodPost, "/settings/sso/domains/:id/verify", models.PermManageSettings, h.verifySSODomain)
	// Billing (billing_handlers.go): Admins and above, like the other
	// settings a company's money concerns; staff see every company's.
	h.tenantRoute(site, http.MethodGet, "/settings/billing", models.PermManageSettings, h.billing)
	h.tenantRoute(site, http.MethodGet, "/settings/billing/statements/:month", models.PermManageSettings, h.billingStatement)
	h.tenantRoute(site, http.MethodGet, "/settings/billing/statements/:month/csv", models.PermManageSettings, h.billingStatementCSV)
	h.platformRoute(site, http.MethodGet, "/billing", models.PermManageSubTenants, h.staffBilling)
	h.platformRoute(site, http.MethodPost, "/billing/refresh", models.PermManageSubTenants, h.refreshBilling)
	h.platformRoute(site, http.MethodGet, "/billing/companies/:id", models.PermManageSubTenants, h.staffBillingCompany)
	h.platformRoute(site, http.MethodGet, "/billing/companies/:id/statements/:month", models.PermManageSubTenants, h.staffBillingStatement)
	h.platformRoute(site, http.MethodGet, "/billing/companies/:id/statements/:month/csv", models.PermManageSubTenants, h.staffBillingStatementCSV)
	h.platformRoute(site, http.MethodGet, "/sso-domains", models.PermManageSubTenants, h.ssoDomains)
	h.platformRoute(site, http.MethodPost, "/sso-domains/:id/approve", models.PermManageSubTenants, h.approveSSODomain)
	h.platformRoute(site, http.MethodPost, "/sso-domains/:id/refuse", models.PermManageSubTenants, h.refuseSSODomain)
	h.tenantRoute(site, http.MethodGet, "/sub-tenants", models.PermManageSubTenants, h.subTenantHandler(h.ownSubTenants, h.subTenants))
	h.tenantRoute(site, http.MethodGet, "/sub-tenants/subdomain-check", models.PermManageSubTenants, h.subdomainCheck)
	h.tenantRoute(site, http.MethodGet, "/sub-tenants/new", models.PermManageSubTenants, h.subTenantHandler(h.ownSubTenants, h.newSubTenantForm))
	h.tenantRoute(site, http.MethodPost, "/sub-tenants", models.PermManageSubTenants, h.subTenantHandler(h.ownSubTenants, h.createSubTenant))
	h.tenantRoute(site, http.MethodGet, "/sub-tenants/:id", models.PermManageSubTenants, h.subTenantDetails)
	h.tenantRoute(site, http.MethodGet, "/sub-tenants/:id/users", models.PermManageSubTenants, h.subTenantUsers)
	h.tenantRoute(site, http.MethodGet, "/sub-tenants/:id/users/new", models.PermManageSubTenants, h.inviteSubTenantUserForm)
	h.tenantRoute(site, http.MethodPost, "/sub-tenants/:id/users", models.PermManageSubTenants, h.inviteSubTenantUser)
	h.tenantRoute(site, http.MethodPost, "/sub-tenants/:id/users/:membershipID/owner", models.PermManageSubTenants, h.setCompanyOwner)
	h.tenantRoute(site, http.MethodPost, "/sub-tenants/:id/invitations/:invitationID/resend", models.PermManageSubTenants, h.resendSubTenantInvitation)
	h.tenantRoute(site, http.MethodPost, "/sub-tenants/:id/invitations/:invitationID/revoke", models.PermManageSubTenants, h.revokeSubTenantInvitation)
	h.tenantRoute(site, http.MethodGet, "/sub-tenants/:id/sub-tenants", models.PermManageSubTenants, h.subTenantHandler(h.childSubTenants, h.subTenants))
	h.tenantRoute(site, http.MethodGet, "/sub-tenants/:id/sub-tenants/new", models.PermManageSubTenants, h.subTenantHandler(h.childSubTenants, h.newSubTenantForm))
	h.tenantRoute(site, http.MethodPost, "/sub-tenants/:id/sub-tenants", models.PermManageSubTenants, h.subTenantHandler(h.childSubTenants, h.createSubTenant))
	h.tenantRoute(site, http.MethodGet, "/sub-tenants/:id/settings", models.PermManageSubTenants, h.subTenantSettings)
	h.tenantRoute(site, http.MethodPost, "/sub-tenants/:id/settings", models.PermManageSubTenants, h.saveSubTenantSettings)
	h.tenantRoute(site, http.MethodPost, "/sub-tenants/:id/status", models.PermManageSubTenants, h.setSubTenantStatus)
	h.tenantRoute(site, http.MethodGet, "/sub-tenants/:id/devices", models.PermManageSubTenants, h.deviceHandler(h.childDevices, h.devicesIndex))
	h.tenantRoute(site, http.MethodPost, "/sub-tenants/:id/devices", models.PermManageSubTenants, h.deviceHandler(h.childDevices, h.addDevice))
	h.tenantRoute(site, http.MethodPost, "/sub-tenants/:id/devices/import", models.PermManageSubTenants, h.deviceHandler(h.childDevices, h.importDevices))
	h.tenantRoute(site, http.MethodPost, "/sub-tenants/:id/devices/:deviceID/status", models.PermManageSubTenants, h.deviceHandler(h.childDevices, h.setDeviceStatus))
	h.tenantRoute(site, http.MethodPost, "/sub-tenants/:id/devices/:deviceID/deprovision", models.PermManageSubTenants, h.deviceHandler(h.childDevices, h.deprovisionDevice))
	h.tenantRoute(site, http.MethodGet, "/sub-tenants/:id/devices/:deviceID/edit", models.PermManageSubTenants, h.deviceHandler(h.childDevices, h.editDeviceForm))
	h.tenantRoute(site, http.MethodPost, "/sub-tenants/:id/devices/:deviceID/edit", models.PermManageSubTenants, h.deviceHandler(h.childDevices, h.saveDevice))
	h.tenantRoute(site, http.MethodGet, "/devices", models.PermView, h.deviceHandler(h.ownDevices, h.devicesIndex))
	h.tenantRoute(site, http.MethodGet, "/devices/new", models.PermEdit, h.deviceHandler(h.ownDevices, h.newDeviceForm))
	h.tenantRoute(site, http.MethodPost, "/devices", models.PermEdit, h.deviceHandler(h.ownDevices, h.addDevice))
	h.tenantRoute(site, http.MethodPost, "/devices/import", models.PermEdit, h.deviceHandler(h.ownDevices, h.importDevices))
	h.tenantRoute(site, http.MethodPost, "/devices/:id/status", models.PermEdit, h.deviceHandler(h.ownDevices, h.setDeviceStatus))
	h.tenantRoute(site, http.MethodPost, "/devices/:id/deprovision", models.PermManageMembers, h.deviceHandler(h.ownDevices, h.deprovisionDevice))
	h.tenantRoute(site, http.MethodGet, "/devices/:id/edit", models.PermEdit, h.deviceHandler(h.ownDevices, h.editDeviceForm))
	h.tenantRoute(site, http.MethodPost, "/devices/:id/edit", models.PermEdit, h.deviceHandler(h.ownDevices, h.saveDevice))
	h.tenantRoute(site, http.MethodGet, "/orders", models.PermView, h.ordersIndex)
	h.tenantRoute(site, http.MethodGet, "/orders/new", models.PermEdit, h.newOrder)
	h.tenantRoute(site, http.MethodPost, "/orders", models.PermEdit, h.createOrder)
	h.tenantRoute(site, http.MethodGet, "/orders/:id", models.PermView, h.orderDetails)
	h.tenantRoute(site, http.MethodPost, "/orders/:id/status", models.PermEdit, h.changeOrderStatus)
	h.tenantRoute(site, http.MethodGet, "/templates", models.PermView, h.templatesIndex)
	h.tenantRoute(site, http.MethodGet, "/templates/new", models.PermEdit, h.newTemplate)
	h.tenantRoute(site, http.MethodGet, "/templates/:id", models.PermView, h.templateDetails)
	h.tenantRoute(site, http.MethodPost, "/templates", models.PermEdit, h.createTemplate)
	h.tenantRoute(site, http.MethodGet, "/templates/:id/edit", models.PermEdit, h.editTemplate)
	h.tenantRoute(site, http.MethodPost, "/templates/:id/edit", models.PermEdit, h.updateTemplate)
	h.tenantRoute(site, http.MethodPost, "/templates/:id/delete", models.PermEdit, h.deleteTemplate)

	// Developers: API keys and production access (developer_handlers.go).
	h.tenantRoute(site, http.MethodGet, "/developers/api-keys", models.PermView, h.apiKeys)
	h.tenantRoute(site, http.MethodGet, "/developers/api-keys/new", models.PermManageSettings, h.newAPIKeyForm)
	h.tenantRoute(site, http.MethodPost, "/developers/api-keys", models.PermManageSettings, h.createAPIKey)
	h.tenantRoute(site, http.MethodPost, "/developers/api-keys/:id/revoke", models.PermManageSettings, h.revokeAPIKey)
	h.tenantRoute(site, http.MethodGet, "/developers/api-keys/:id/roll", models.PermManageSettings, h.rollAPIKeyForm)
	h.tenantRoute(site, http.MethodPost, "/developers/api-keys/:id/roll", models.PermManageSettings, h.rollAPIKey)
	h.tenantRoute(site, http.MethodGet, "/developers/production-access", models.PermManageSettings, h.productionAccessForm)
	h.tenantRoute(site, http.MethodPost, "/developers/production-access", models.PermManageSettings, h.requestProductionAccess)
	// Developers → Webhooks (webhook_handlers.go): Admins and above only,
	// since an endpoint leads to its secret and to the data it was sent.
	h.tenantRoute(site, http.MethodGet, "/developers/webhooks", models.PermManageSettings, h.webhooks)
	h.tenantRoute(site, http.MethodGet, "/developers/webhooks/new", models.PermManageSettings, h.newWebhookForm)
	h.tenantRoute(site, http.MethodPost, "/developers/webhooks", models.PermManageSettings, h.createWebhook)
	h.tenantRoute(site, http.MethodGet, "/developers/webhooks/:id", models.PermManageSettings, h.webhookEndpoint)
	h.tenantRoute(site, http.MethodGet, "/developers/webhooks/:id/edit", models.PermManageSettings, h.editWebhookForm)
	h.tenantRoute(site, http.MethodPost, "/developers/webhooks/:id", models.PermManageSettings, h.updateWebhook)
	h.tenantRoute(site, http.MethodPost, "/developers/webhooks/:id/enable", models.PermManageSettings, h.setWebhookEnabled(true))
	h.tenantRoute(site, http.MethodPost, "/developers/webhooks/:id/disable", models.PermManageSettings, h.setWebhookEnabled(false))
	h.tenantRoute(site, http.MethodPost, "/developers/webhooks/:id/delete", models.PermManageSettings, h.deleteWebhook)
	h.tenantRoute(site, http.MethodPost, "/developers/webhooks/:id/reveal", models.PermManageSettings, h.revealWebhookSecret)
	h.tenantRoute(site, http.MethodPost, "/developers/webhooks/:id/rotate", models.PermManageSettings, h.rotateWebhookSecret)
	h.tenantRoute(site, http.MethodPost, "/developers/webhooks/:id/test", models.PermManageSettings, h.sendWebhookTestEvent)
	h.tenantRoute(site, http.MethodPost, "/developers/webhooks/:id/resend", models.PermManageSettings, h.resendFailedWebhooks)
	h.tenantRoute(site, http.MethodGet, "/developers/webhooks/deliveries/:id", models.PermManageSettings, h.webhookDelivery)
	h.tenantRoute(site, http.MethodPost, "/developers/webhooks/deliveries/:id/replay", models.PermManageSettings, h.replayWebhookDelivery)
	h.platformRoute(site, http.MethodGet, "/access-requests", models.PermManageSubTenants, h.accessRequests)
	h.platformRoute(site, http.MethodPost, "/access-requests/:id/approve", models.PermManageSubTenants, h.approveAccessRequest)
	h.platformRoute(site, http.MethodPost, "/access-requests/:id/decline", models.PermManageSubTenants, h.declineAccessRequest)
	// Billing, platform staff's side: the plans (plan_handlers.go) and a
	// company's terms on its Billing tab (subtenant_billing_handlers.go).
	h.platformRoute(site, http.MethodGet, "/plans", models.PermManageSubTenants, h.plans)
	h.platformRoute(site, http.MethodGet, "/plans/new", models.PermManageSubTenants, h.newPlanForm)
	h.platformRoute(site, http.MethodPost, "/plans", models.PermManageSubTenants, h.createPlan)
	h.platformRoute(site, http.MethodGet, "/plans/:id", models.PermManageSubTenants, h.plan)
	h.platformRoute(site, http.MethodPost, "/plans/:id", models.PermManageSubTenants, h.updatePlan)
	h.platformRoute(site, http.MethodPost, "/plans/:id/archive", models.PermManageSubTenants, h.archivePlan)
	h.platformRoute(site, http.MethodGet, "/sub-tenants/:id/billing", models.PermManageSubTenants, h.subTenantBilling)
	h.platformRoute(site, http.MethodPost, "/sub-tenants/:id/billing", models.PermManageSubTenants, h.changeSubTenantBilling)

	// The JSON API, on each company's host: authenticated by an API key in
	// the Authorization header, never by the session cookie, so neither
	// loadSession nor checkCSRF runs; apiRoute puts the key's checks in
	// front of each handler. Its errors are JSON (handleError).
	api := e.Group(apiPrefix, h.inTransaction, h.resolveHost)
	api.RouteNotFound("/*", h.apiNotFound)
	h.apiPublicRoute(api, http.MethodGet, "/openapi.json", h.openAPIDocument)
	h.apiRoute(api, http.MethodGet, "/orders", models.ScopeOrdersRead, h.apiListOrders)
	h.apiRoute(api, http.MethodPost, "/orders", models.ScopeOrdersWrite, h.apiCreateOrder)
	h.apiRoute(api, http.MethodGet, "/orders/:id", models.ScopeOrdersRead, h.apiGetOrder)
	h.apiRoute(api, http.MethodPost, "/orders/:id/cancel", models.ScopeOrdersWrite, h.apiCancelOrder)
	h.apiRoute(api, http.MethodPost, "/orders/:id/simulate", models.ScopeOrdersWrite, h.apiSimulateOrder)
	h.apiRoute(api, http.MethodGet, "/devices", models.ScopeDevicesRead, h.apiListDevices)
	h.apiRoute(api, http.MethodPost, "/devices", models.ScopeDevicesWrite, h.apiCreateDevice)
	h.apiRoute(api, http.MethodGet, "/devices/:id", models.ScopeDevicesRead, h.apiGetDevice)
	h.apiRoute(api, http.MethodPost, "/devices/:id/status", models.ScopeDevicesWrite, h.apiSetDeviceStatus)
	h.apiRoute(api, http.MethodGet, "/members", models.ScopeMembersRead, h.apiListMembers)
	return h
}

// mustSealBox makes the box for a key LoadSecrets derived, which always has
// the right length: a failure here is a programming error.
func mustSealBox(key []byte) *sealbox.Box {
	box, err := sealbox.New(key)
	if err != nil {
		panic(err)
	}
	return box
}

// Router is the HTTP handler to serve.
func (h *Handlers) Router() *echo.Echo { return h.echo }
