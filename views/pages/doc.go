// Package pages holds the pages: one exported templ component per page, the
// values it shows, and the few pieces only pages share (SettingsTabs, the
// sub-tenant details frame, DeviceList). Each page takes the request's
// views.Shell first, then what it shows, usually one value: a …Data for a
// list or a view (TeamData, DevicesData), a …Form for a form, with what was
// typed and its problems (MemberForm, OrderForm). Handlers fill those values;
// a page derives what it displays from them with small methods and reads
// nothing itself.
//
// Lists are drawn with components.ListBody, most of them in a
// components.Table, so a page states only its columns, its rows and its
// empty texts.
package pages
