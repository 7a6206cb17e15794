package handlers

// AccessRules lists who may call each route, for the authorization tests.
func (h *Handlers) AccessRules() map[string]accessRule { return h.access }
