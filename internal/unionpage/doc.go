// Package unionpage answers one page of a listing that is the union of
// several streams of ranges (what each layer of a disk image allocates, say)
// plus a tail that counts as changed up to the capacity, widened to a
// granularity: the page algorithm the qemu and rhv drivers share. It holds
// no platform policy: the caller says which streams count and where.
package unionpage
