using OtaServer.Serving;

namespace OtaServer.Tests.Serving;

public sealed class ModifiedBase64Tests
{
    // Spec §1: 392a82de…f5a9 → OSqC3o80NzXQYOLDQHeRAUoMIoMc00ojUjUT0edq9ak
    private const string Hex = "392a82de8f343735d060e2c3407791014a0c22831cd34a23523513d1e76af5a9";
    private const string Mb64 = "OSqC3o80NzXQYOLDQHeRAUoMIoMc00ojUjUT0edq9ak";

    [Fact]
    public void Encode_MatchesSpecExample() => Assert.Equal(Mb64, ModifiedBase64.Encode(Convert.FromHexString(Hex)));

    [Fact]
    public void TargetOfDeltaFolder_Scratch_DecodesTarget() =>
        Assert.Equal(Hex, ModifiedBase64.TargetOfDeltaFolder($"{Mb64[..2]}/{Mb64[2..]}"));

    [Fact]
    public void TargetOfDeltaFolder_FromTo_DecodesTarget()
    {
        // Spec §6.1 example: OS/qC3o…-SbR2oRsb5VtgVwh15QXZWXXTNnlkaGVA4x0xWTmjL54
        const string to = "SbR2oRsb5VtgVwh15QXZWXXTNnlkaGVA4x0xWTmjL54";
        var expected = Convert.ToHexStringLower(Convert.FromBase64String(to + "="));
        Assert.Equal(expected, ModifiedBase64.TargetOfDeltaFolder($"{Mb64[..2]}/{Mb64[2..]}-{to}"));
        Assert.StartsWith("49b476a1", expected); // the v2 commit of the traces
    }

    [Fact]
    public void TargetOfDeltaFolder_WithPlusAndUnderscore_Decodes()
    {
        var bytes = Enumerable.Repeat((byte)0xfb, 32).ToArray(); // base64 "+/v7…" → mb64 "+_v7…"
        var mb64 = ModifiedBase64.Encode(bytes);
        Assert.Contains('_', mb64);
        Assert.Contains('+', mb64);
        Assert.Equal(Convert.ToHexStringLower(bytes), ModifiedBase64.TargetOfDeltaFolder($"{mb64[..2]}/{mb64[2..]}"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("OS")]
    [InlineData("OS/short")]
    [InlineData("OS/qC3o80NzXQYOLDQHeRAUoMIoMc00ojUjUT0edq9ak-short")]
    public void TargetOfDeltaFolder_Malformed_ReturnsNull(string folder) => Assert.Null(ModifiedBase64.TargetOfDeltaFolder(folder));
}
