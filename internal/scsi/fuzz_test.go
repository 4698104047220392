package scsi

import (
	"testing"
)

func FuzzDecodeLBAStatus(f *testing.F) {
	f.Add(AppendLBAStatus(nil, LBAStatus{Condition: 2, Descriptors: []LBADescriptor{{LBA: 0x60, Blocks: 8, Provisioning: 3}, {LBA: 0x68, Blocks: 512, Provisioning: 1}}}))
	f.Add([]byte{0, 0, 0, 4, 0, 0, 0, 1})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0xff, 1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := DecodeLBAStatus(b)
		if err != nil {
			return
		}
		if 8+16*len(st.Descriptors) > len(b) {
			t.Fatalf("%d descriptors from %d bytes", len(st.Descriptors), len(b))
		}
		if st.Condition > 7 || st.Truncated != (uint64(st.Length)+4 > uint64(len(b))) {
			t.Fatalf("bad header decode %+v", st)
		}
		// Re-encoding gives the same bytes up to the last whole descriptor,
		// except the reserved bytes and bits.
		again, err := DecodeLBAStatus(AppendLBAStatus(nil, st))
		if err != nil {
			t.Fatal(err)
		}
		if len(again.Descriptors) != len(st.Descriptors) || again.Condition != st.Condition || again.RTP != st.RTP {
			t.Fatalf("round trip: %+v != %+v", again, st)
		}
		for i := range st.Descriptors {
			if again.Descriptors[i] != st.Descriptors[i] {
				t.Fatalf("descriptor %d: %+v != %+v", i, again.Descriptors[i], st.Descriptors[i])
			}
		}
	})
}

func FuzzDecodeSense(f *testing.F) {
	f.Add(Sense{Key: KeyIllegalRequest, ASC: 0x20}.AppendFixed(nil))
	f.Add(Sense{Key: KeyUnitAttention, ASC: 0x29, InfoValid: true, Information: 5}.AppendDescriptor(nil))
	f.Add([]byte{0x72, 5, 0x24, 0, 0, 0, 0, 4, 0, 2, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSense(b)
		if err != nil {
			return
		}
		if s.Key > 0xf || (s.ResponseCode != 0x70 && s.ResponseCode != 0x71 && s.ResponseCode != 0x72 && s.ResponseCode != 0x73) {
			t.Fatalf("bad decode %+v", s)
		}
		_ = s.String()
		var enc []byte
		if s.Descriptor() {
			enc = s.AppendDescriptor(nil)
		} else {
			enc = s.AppendFixed(nil)
			s.Information &= 0xffffffff
		}
		again, err := DecodeSense(enc)
		if err != nil || again != s {
			t.Fatalf("round trip: %+v != %+v (%v)", again, s, err)
		}
	})
}

func FuzzDecodeReadCapacity16(f *testing.F) {
	f.Add(AppendReadCapacity16(nil, Capacity{BlockSize: 512, Blocks: 2048, LBPME: true}))
	f.Add(make([]byte, 15))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeReadCapacity16(b)
		if err != nil {
			return
		}
		if c.BlockSize == 0 || c.Blocks == 0 {
			t.Fatalf("bad decode %+v", c)
		}
		again, err := DecodeReadCapacity16(AppendReadCapacity16(nil, c))
		if err != nil || again != c {
			t.Fatalf("round trip: %+v != %+v (%v)", again, c, err)
		}
	})
}
