package pages

import "canopy/models"

// firstToFix is the field a form's cursor starts in: the first of fields,
// in the form's order, with a problem, else the first of all.
func firstToFix(problems models.FieldErrors, fields ...string) string {
	for _, name := range fields {
		if problems[name] != "" {
			return name
		}
	}
	return fields[0]
}
