using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Options;
using OtaServer.OSTree;
using OtaServer.OSTree.StaticDeltas;
using OtaServer.Signing;
using OtaServer.Tests.Deltas;
using OtaServer.Tests.Infrastructure;

namespace OtaServer.Tests.Signing;

/// <summary>
/// <c>RequireSignedCommits</c>: refs only move to commits with a good signature by a trusted key (gpg signs, as CI
/// would; the server checks with BouncyCastle); signatures added later are merged into the stored
/// <c>.commitmeta</c>, and deltas made before carry the new copy to the real client with gpg-verify=true.
/// </summary>
public sealed class CommitSignaturePolicyTests : IDisposable
{
    private readonly TempDirectory _tmp = new();
    private readonly GpgKeys _keys;
    private OtaServerFactory? _factory;

    public CommitSignaturePolicyTests() => _keys = new GpgKeys(_tmp);

    public void Dispose()
    {
        _factory?.Dispose();
        _keys.Dispose();
        _tmp.Dispose();
    }

    private static void GpgSign(string local, string commit, GpgKey key) =>
        OstreeCli.Run("gpg-sign", "--repo=" + local, "--gpg-homedir=" + key.Home, commit, key.Fingerprint);

    private static string MetaPath(string commit) => $"objects/{commit[..2]}/{commit[2..]}.commitmeta";

    private Task<(int Code, string Out, string Err)> PushAsync(Uri server, string local, string @ref = "main") =>
        EndToEnd.PushAndPullTests.OtactlAsync("push", "--server", server.ToString(), "--token", OtaServerFactory.PushToken, local, @ref);

    private async Task<string?> ServerRefAsync(string name)
    {
        var refs = await _factory!.CreateClient(OtaServerFactory.PushToken).GetFromJsonAsync<JsonElement>("/api/v1/repos/main/refs");
        return refs.EnumerateArray().Where(r => r.GetProperty("name").GetString() == name).Select(r => r.GetProperty("commit").GetString()).FirstOrDefault();
    }

    private async Task<(HttpStatusCode Status, string Title, string Detail)> MoveRefAsync(string @ref, string commit, string? expected)
    {
        var response = await _factory!.CreateClient(OtaServerFactory.PushToken).PutAsJsonAsync($"/api/v1/repos/main/refs/{@ref}", new { commit, expected });
        if (response.IsSuccessStatusCode)
            return (response.StatusCode, "", "");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (response.StatusCode, problem.GetProperty("title").GetString()!, problem.GetProperty("detail").GetString()!);
    }

    [Fact]
    public async Task RequireSignedCommits_RefusesUnsignedUntrustedAndBad_ThenASignatureAddedLaterIsMergedAndReachesTheDeltaSuperblock()
    {
        var ci = _keys.NewKey("ci");
        var stranger = _keys.NewKey("stranger");
        _factory = new OtaServerFactory(new Dictionary<string, string?>
        {
            ["OtaServer:Signing:Keys:0:SecretKeyFile"] = ci.SecretFile,
            ["OtaServer:Signing:Repositories:main:RequireSignedCommits"] = "true",
            ["OtaServer:Signing:Repositories:main:TrustedKeyFiles:0"] = ci.PublicFile,
        }, _tmp.Combine("data"));
        var server = _factory.StartKestrel();
        var root = _factory.RepoRoot();
        var local = _tmp.Combine("build");
        var tree = _tmp.Combine("tree");

        // v1, signed by CI: accepted; a verifying device pulls it.
        TestTrees.Write(tree, 1, extraFiles: 10);
        var v1 = LocalRepos.Commit(local, tree, subject: "v1");
        GpgSign(local, v1, ci);
        var push1 = await PushAsync(server, local);
        Assert.True(push1.Code == 0, push1.Err);
        var device = _tmp.Combine("device");
        OstreeCli.Run("init", "--mode=bare-user", "--repo=" + device);
        OstreeCli.Run("remote", "add", "--repo=" + device, "--set=gpg-verify=true", "--set=gpg-verify-summary=true", "ota", new Uri(server, "repos/main").ToString());
        OstreeCli.Run("remote", "gpg-import", "--repo=" + device, "-k", ci.PublicFile, "ota");
        OstreeCli.Run("pull", "--repo=" + device, "ota", "main");

        // v2 unsigned: the objects are stored, no ref moves (otactl says why; the API answers 422).
        TestTrees.Write(tree, 2, extraFiles: 12);
        var v2 = LocalRepos.Commit(local, tree, subject: "v2");
        var unsigned = await PushAsync(server, local);
        Assert.NotEqual(0, unsigned.Code);
        Assert.Contains("no signature", unsigned.Err);
        var (status, title, detail) = await MoveRefAsync("main", v2, v1);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Equal("Commit not signed", title);
        Assert.Contains(v2, detail);
        Assert.Equal(v1, await ServerRefAsync("main"));

        // v2 signed by a key the repository does not trust: 422 naming that key's fingerprint.
        GpgSign(local, v2, stranger);
        var untrusted = await PushAsync(server, local);
        Assert.NotEqual(0, untrusted.Code);
        (status, title, detail) = await MoveRefAsync("main", v2, v1);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Equal("Commit signed by an untrusted key", title);
        Assert.Contains(stranger.Fingerprint, detail);
        Assert.Equal(v1, await ServerRefAsync("main"));
        var strangerOnly = File.ReadAllBytes(Path.Combine(root, MetaPath(v2)));
        Assert.Single(DetachedMetadata.Signatures(strangerOnly));

        // A CI signature over another commit (copied detached metadata): BAD signature, on any ref.
        TestTrees.Write(tree, 3);
        var other = LocalRepos.Commit(local, tree, branch: "other", subject: "other");
        File.Copy(Path.Combine(local, MetaPath(v1)), Path.Combine(local, MetaPath(other)));
        var bad = await PushAsync(server, local, "other");
        Assert.NotEqual(0, bad.Code);
        (status, title, detail) = await MoveRefAsync("other", other, null);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Equal("Bad commit signature", title);
        Assert.Contains(ci.Fingerprint, detail);
        Assert.Null(await ServerRefAsync("other"));

        // A delta to v2 made now carries v2's detached metadata as it is: the stranger's signature only.
        var admin = _factory.CreateClient(OtaServerFactory.AdminToken);
        var generate = await admin.PostAsJsonAsync("/api/v1/repos/main/deltas", new { from = v1, to = v2 });
        Assert.Equal(HttpStatusCode.Accepted, generate.StatusCode);
        var jobUrl = (await generate.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobUrl").GetString()!;
        Assert.Equal("Succeeded", (await DeltaPullTests.WaitForJobAsync(admin, jobUrl)).GetProperty("status").GetString());
        var delta = new DeltaName(Checksum.Parse(v1), Checksum.Parse(v2));
        byte[] SuperblockMeta() => GVariant.Parse(DeltaSizes.SuperblockType, File.ReadAllBytes(Path.Combine(root, delta.SuperblockRelativePath)))[0]
            .Lookup(delta.CommitMetaKey)!.Serialize();
        Assert.Equal(strangerOnly, SuperblockMeta());

        // CI signs v2 afterwards; the second push sends the .commitmeta the server already has, and it is merged.
        GpgSign(local, v2, ci);
        var signedLater = await PushAsync(server, local);
        Assert.True(signedLater.Code == 0, signedLater.Err);
        Assert.Equal(v2, await ServerRefAsync("main"));
        var merged = File.ReadAllBytes(Path.Combine(root, MetaPath(v2)));
        Assert.Equal(2, DetachedMetadata.Signatures(merged).Count);
        Assert.Equal(merged, SuperblockMeta());

        // A later upload of the older metadata (the stranger's signature alone) drops nothing.
        var reupload = await _factory.CreateClient(OtaServerFactory.PushToken).PostAsync("/api/v1/repos/main/objects",
            new ByteArrayContent(LocalRepos.Tar([(MetaPath(v2), strangerOnly)])));
        Assert.Equal(HttpStatusCode.OK, reupload.StatusCode);
        Assert.Equal(merged, File.ReadAllBytes(Path.Combine(root, MetaPath(v2))));

        // Caches revalidate the rewritten superblock rather than keep the old one.
        using (var anon = new HttpClient { BaseAddress = server })
        {
            var sb = await anon.GetAsync("/repos/main/" + delta.SuperblockRelativePath);
            Assert.Equal(HttpStatusCode.OK, sb.StatusCode);
            Assert.Equal("no-cache", sb.Headers.CacheControl?.ToString());
        }

        // The verifying device pulls v2 through that delta, with CI's signature good.
        _factory.Requests.Clear();
        OstreeCli.Run("pull", "--repo=" + device, "--require-static-deltas", "ota", "main");
        Assert.Equal(v2, OstreeCli.Run("rev-parse", "--repo=" + device, "ota:main").Trim());
        Assert.Contains(_factory.RepositoryGets(), g => g.Path == delta.SuperblockRelativePath && g.Status == 200);
        var show = OstreeCli.Run("show", "--repo=" + device, v2);
        Assert.Contains("Good signature", show);
        Assert.Contains(ci.Fingerprint[^16..], show.Replace(" ", ""));
        OstreeCli.Run("fsck", "--repo=" + device);
    }

    [Fact]
    public void RequireSignedCommits_WithoutTrustedKeys_StopsTheServerWithAMessageNamingTheSetting()
    {
        var options = Options.Create(new SigningOptions
        {
            Repositories = { ["main"] = new RepositorySigningOptions { RequireSignedCommits = true } },
        });
        var e = Assert.Throws<OptionsValidationException>(() => new CommitSignaturePolicy(options, TimeProvider.System));
        Assert.Contains("OtaServer:Signing:Repositories:main:TrustedKeyFiles:0", e.Message);
    }

    [Fact]
    public void Merge_KeepsEverySignatureOfBothSides_AndReportsNoChangeForASubset()
    {
        var a = GVariant.VarDict((SummarySigner.GpgSigsKey, GVariant.ByteArrayArray([new byte[] { 1, 2 }, new byte[] { 3 }])),
            ("custom", GVariant.String("x"))).Serialize();
        var b = GVariant.VarDict((SummarySigner.GpgSigsKey, GVariant.ByteArrayArray([new byte[] { 3 }, new byte[] { 4, 5 }]))).Serialize();
        var merged = DetachedMetadata.Merge(a, b);
        Assert.Equal([[1, 2], [3], [4, 5]], DetachedMetadata.Signatures(merged).Select(s => s.ToArray()).ToArray());
        Assert.Equal("x", GVariant.Parse(GVariantType.VarDict, merged).Lookup("custom")!.GetString());
        Assert.Same(merged, DetachedMetadata.Merge(merged, b));
        Assert.Same(merged, DetachedMetadata.Merge(merged, GVariant.EmptyVarDict().Serialize()));
    }
}
