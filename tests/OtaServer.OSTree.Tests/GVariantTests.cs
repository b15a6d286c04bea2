namespace OtaServer.OSTree.Tests;

public sealed class GVariantTests
{
    private static byte[] Hex(string s) => Convert.FromHexString(s.Replace(" ", "").Replace("|", ""));

    [Fact]
    public void DirMeta_SpecExample_RootOwned0755()
    {
        var bytes = new DirMeta { Uid = 0, Gid = 0, Mode = 0x41ED }.Serialize();
        Assert.Equal(Hex("00000000 00000000 000041ED"), bytes);
        Assert.Equal(0x41EDu, DirMeta.Parse(bytes).Mode);
    }

    [Fact]
    public void DirTree_Empty_IsSingleZeroByte() => Assert.Equal(new byte[] { 0 }, new DirTree().Serialize());

    [Fact]
    public void DirTree_OneFile_MatchesSpecExample()
    {
        var csum = Checksum.Compute("x"u8);
        var bytes = new DirTree { Files = [new DirTreeFile("motd", csum)] }.Serialize();
        var expected = Hex("6D6F746400").Concat(csum.ToArray()).Concat(Hex("05 26 27")).ToArray();
        Assert.Equal(expected, bytes);
        var back = DirTree.Parse(bytes);
        Assert.Equal("motd", back.Files[0].Name);
        Assert.Equal(csum, back.Files[0].Checksum);
    }

    [Fact]
    public void Variant_ByteInVariant()
    {
        Assert.Equal(Hex("6C0079"), GVariant.Variant(GVariant.Byte((byte)'l')).Serialize());
    }

    [Fact]
    public void VarDict_Endianness_MatchesSuperblockPrefix()
    {
        // From the annotated superblock in ostree-format.md Appendix A: bytes 0–28.
        var dict = GVariant.VarDict(("ostree.endianness", GVariant.Byte((byte)'l')));
        var expected = Hex("6f737472 65652e65 6e646961 6e6e6573 73000000 00000000 6c007912 1c");
        Assert.Equal(expected, dict.Serialize());
        var back = GVariant.ParseNormalForm(GVariantType.VarDict, expected);
        Assert.Equal((byte)'l', back.Lookup("ostree.endianness")!.GetByte());
    }

    [Fact]
    public void EmptyContainers_SerializeToNothing()
    {
        Assert.Empty(GVariant.EmptyVarDict().Serialize());
        Assert.Empty(GVariant.Array("s", []).Serialize());
        Assert.Empty(GVariant.Maybe(GVariantType.String, null).Serialize());
        Assert.Equal(new byte[] { 0 }, GVariant.Tuple().Serialize());
    }

    [Theory]
    [InlineData("(ayay)", 250)]
    [InlineData("(ayay)", 254)]
    [InlineData("(ayay)", 255)]
    [InlineData("(ayay)", 256)]
    [InlineData("aay", 252)]
    [InlineData("aay", 253)]
    [InlineData("aay", 254)]
    [InlineData("aay", 255)]
    [InlineData("(ayay)", 65533)]
    [InlineData("(ayay)", 65534)]
    [InlineData("(ayay)", 65535)]
    [InlineData("aay", 65531)]
    [InlineData("aay", 65532)]
    [InlineData("aay", 65533)]
    [InlineData("aay", 65534)]
    public void OffsetWidth_GrowsExactlyWhenTheContainerNoLongerFits(string type, int payload)
    {
        // Mirrors test_gv_boundary.py: two byte strings of total length `payload`.
        var a = new byte[payload / 2];
        var b = new byte[payload - payload / 2];
        var v = type == "(ayay)"
            ? GVariant.Tuple(GVariant.Bytes(a), GVariant.Bytes(b))
            : GVariant.ByteArrayArray([a, b]);
        int offsets = type == "(ayay)" ? 1 : 2;
        int expectedWidth = payload + offsets <= 255 ? 1 : payload + 2 * offsets <= 65535 ? 2 : 4;
        var bytes = v.Serialize();
        Assert.Equal(payload + offsets * expectedWidth, bytes.Length);
        // The first framing offset (end of `a`) is written in the chosen width at the expected place.
        int tableStart = bytes.Length - offsets * expectedWidth;
        ulong firstOffset = expectedWidth switch
        {
            1 => bytes[tableStart],
            2 => BitConverter.ToUInt16(bytes, tableStart),
            _ => BitConverter.ToUInt32(bytes, tableStart),
        };
        Assert.Equal((ulong)a.Length, firstOffset);
        var back = GVariant.ParseNormalForm(v.Type, bytes);
        Assert.Equal(bytes, back.Serialize());
    }

    [Fact]
    public void OffsetWidth_BoundaryValues()
    {
        Assert.Equal(1, GVariant.OffsetWidth(254, 1));
        Assert.Equal(2, GVariant.OffsetWidth(255, 1));
        Assert.Equal(2, GVariant.OffsetWidth(65533, 1));
        Assert.Equal(4, GVariant.OffsetWidth(65534, 1));
        Assert.Equal(4, GVariant.OffsetWidth(uint.MaxValue - 4L, 1));
        Assert.Equal(8, GVariant.OffsetWidth(uint.MaxValue - 3L, 1));
    }

    [Fact]
    public void AllBasicTypes_RoundTrip()
    {
        var v = GVariant.Tuple(
            GVariant.Byte(7), GVariant.Boolean(true), GVariant.Int16(-2), GVariant.UInt16(65000), GVariant.Int32(-5),
            GVariant.UInt32(4000000000), GVariant.Int64(-9), GVariant.UInt64(ulong.MaxValue), GVariant.Double(1.5),
            GVariant.String("héllo"), GVariant.ObjectPath("/org/x"), GVariant.Signature("a{sv}"),
            GVariant.Variant(GVariant.StringArray(["a", "bc"])),
            GVariant.Maybe(GVariantType.String, GVariant.String("m")), GVariant.Maybe(GVariantType.UInt32, GVariant.UInt32(3)),
            GVariant.Maybe(GVariantType.String, null),
            GVariant.Array("{ss}", [GVariant.DictEntry(GVariant.String("k"), GVariant.String("v"))]),
            GVariant.Tuple());
        Assert.Equal("(ybnqiuxtdsogvmsmumsa{ss}())", v.Type.Text);
        var bytes = v.Serialize();
        var back = GVariant.ParseNormalForm(v.Type, bytes);
        Assert.Equal(bytes, back.Serialize());
        Assert.Equal(-2, back[2].GetInt16());
        Assert.Equal(ulong.MaxValue, back[7].GetUInt64());
        Assert.Equal(1.5, back[8].GetDouble());
        Assert.Equal("héllo", back[9].GetString());
        Assert.Equal("bc", back[12].GetVariant()[1].GetString());
        Assert.Equal("m", back[13].GetMaybe()!.GetString());
        Assert.Equal(3u, back[14].GetMaybe()!.GetUInt32());
        Assert.Null(back[15].GetMaybe());
        Assert.Equal("v", back[16].Lookup("k")!.GetString());
    }

    [Fact]
    public void Alignment_PadsRelativeToContainer()
    {
        // (yt): byte, 7 padding bytes, then the 8-byte integer: fixed size 16.
        var bytes = GVariant.Tuple(GVariant.Byte(1), GVariant.UInt64(2)).Serialize();
        Assert.Equal(Hex("01 00000000000000 0200000000000000"), bytes);
        // (sv) dict-entry-like tuple: string, pad to 8, variant, then the offset of the string end.
        var sv = GVariant.Tuple(GVariant.String("a"), GVariant.Variant(GVariant.UInt32(1))).Serialize();
        Assert.Equal(Hex("6100 000000000000 01000000 00 75 02"), sv);
    }

    [Theory]
    [InlineData("b", "02")]                      // booleans are 0/1
    [InlineData("s", "6162")]                    // missing NUL
    [InlineData("s", "610062 00")]               // embedded NUL
    [InlineData("u", "010000")]                  // wrong fixed size
    [InlineData("(yt)", "01 01000000000000 0200000000000000")] // non-zero padding
    [InlineData("as", "6100 0200")]              // 2-byte offsets where 1 suffices
    [InlineData("v", "0100000000")]              // variant without a type
    public void ParseNormalForm_RejectsNonNormalBytes(string type, string hex)
    {
        var bytes = Hex(hex);
        Assert.False(GVariant.IsNormalForm(GVariantType.Parse(type), bytes));
        Assert.Throws<FormatException>(() => GVariant.ParseNormalForm(GVariantType.Parse(type), bytes));
    }

    [Fact]
    public void Parse_RejectsOffsetsOutOfRange()
    {
        Assert.Throws<FormatException>(() => GVariant.Parse(GVariantType.Parse("as"), Hex("6100 09")));
        Assert.Throws<FormatException>(() => GVariant.Parse(GVariantType.Parse("(ss)"), Hex("6100 6200 09")));
    }

    [Fact]
    public void FromSerialized_IsWrittenVerbatimInsideContainers()
    {
        var inner = GVariant.Tuple(GVariant.String("x"), GVariant.UInt32(5)).Serialize();
        var raw = GVariant.FromSerialized(GVariantType.Parse("(su)"), inner);
        var outer = GVariant.Tuple(GVariant.Byte(1), raw);
        var rebuilt = GVariant.Tuple(GVariant.Byte(1), GVariant.Tuple(GVariant.String("x"), GVariant.UInt32(5)));
        Assert.Equal(rebuilt.Serialize(), outer.Serialize());
        Assert.Equal("x", raw[0].GetString());
    }

    [Fact]
    public void TypeParse_RejectsIndefiniteOrMalformedTypes()
    {
        Assert.Throws<FormatException>(() => GVariantType.Parse("a"));
        Assert.Throws<FormatException>(() => GVariantType.Parse("(s"));
        Assert.Throws<FormatException>(() => GVariantType.Parse("{vs}"));
        Assert.Throws<FormatException>(() => GVariantType.Parse("ss"));
        Assert.Equal(8, GVariantType.Parse("(a{sv}tayay)").Alignment);
        Assert.Equal(12, GVariantType.Parse("(uuu)").FixedSize);
        Assert.Null(GVariantType.Parse("(uus)").FixedSize);
    }

    [Theory]
    [InlineData("a{sv}", true)]
    [InlineData("(a(say)s)u", true)]
    [InlineData("", true)]
    [InlineData("a{vs}", false)]
    [InlineData("(s", false)]
    [InlineData("z", false)]
    public void Signature_IsValidated(string sig, bool valid)
    {
        var bytes = System.Text.Encoding.ASCII.GetBytes(sig + "\0");
        Assert.Equal(valid, GVariant.IsNormalForm(GVariantType.Signature, bytes));
    }
}
