using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.WebUtilities;
using OtaServer.Tests.Infrastructure;
using HeaderUtilities = Microsoft.Net.Http.Headers.HeaderUtilities;

namespace OtaServer.Tests.Serving;

public sealed class RepositoryFileTests(ServingFixture fixture) : IClassFixture<ServingFixture>
{
    private HttpClient Client => fixture.Client;

    [Fact]
    public async Task Get_Object_ReturnsBytesAsOctetStreamWithExactLength()
    {
        using var response = await Client.GetAsync(fixture.Url(fixture.ObjectPath));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(fixture.ObjectBytes.Length, response.Content.Headers.ContentLength);
        Assert.Equal(fixture.ObjectBytes, await response.Content.ReadAsByteArrayAsync());
        Assert.Equal("bytes", Assert.Single(response.Headers.AcceptRanges));
        Assert.Null(response.Content.Headers.ContentEncoding.FirstOrDefault());
    }

    [Fact]
    public async Task Get_CachedSmallObject_IsServedAgainAndIs404OnceRemoved()
    {
        using var factory = new OtaServerFactory(new Dictionary<string, string?> { ["OtaServer:Serving:SmallObjectRecheckInterval"] = "00:00:00" });
        var client = factory.CreateClient();
        var checksum = ServingTestRepo.RandomChecksum();
        var bytes = ServingTestRepo.RandomBytes(3000);
        var full = ServingTestRepo.Write(factory, ServingTestRepo.ObjectPath(checksum, "dirtree"), bytes);
        var url = "/repos/main/" + ServingTestRepo.ObjectPath(checksum, "dirtree");
        using var first = await client.GetAsync(url);
        using var second = await client.GetAsync(url); // from the small-object cache
        Assert.Equal(bytes, await second.Content.ReadAsByteArrayAsync());
        Assert.Equal(first.Headers.ETag, second.Headers.ETag);
        Assert.Equal(first.Content.Headers.LastModified, second.Content.Headers.LastModified);

        File.Delete(full); // pruned
        using var third = await client.GetAsync(url);
        Assert.Equal(HttpStatusCode.NotFound, third.StatusCode);
    }

    [Fact]
    public async Task Get_CachedSmallObject_RemovedFromDisk_Is404AfterTheRecheckInterval()
    {
        var time = new SkippableTime();
        using var factory = new OtaServerFactory(new Dictionary<string, string?> { ["OtaServer:Serving:SmallObjectRecheckInterval"] = "00:01:00" }) { Time = time };
        var client = factory.CreateClient();
        var checksum = ServingTestRepo.RandomChecksum();
        var bytes = ServingTestRepo.RandomBytes(2000);
        var full = ServingTestRepo.Write(factory, ServingTestRepo.ObjectPath(checksum, "dirmeta"), bytes);
        var url = "/repos/main/" + ServingTestRepo.ObjectPath(checksum, "dirmeta");
        using (var first = await client.GetAsync(url))
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);

        File.Delete(full);
        using (var soon = await client.GetAsync(url)) // within the interval: the cached (still valid) bytes
        {
            Assert.Equal(HttpStatusCode.OK, soon.StatusCode);
            Assert.Equal(bytes, await soon.Content.ReadAsByteArrayAsync());
        }
        time.Advance(TimeSpan.FromSeconds(61));
        using var later = await client.GetAsync(url);
        Assert.Equal(HttpStatusCode.NotFound, later.StatusCode);
    }

    [Fact]
    public async Task Get_ObjectLargerThanCacheLimit_IsStreamedWithRanges()
    {
        var checksum = ServingTestRepo.RandomChecksum();
        var bytes = ServingTestRepo.RandomBytes(300_000);
        ServingTestRepo.Write(fixture.Factory, ServingTestRepo.ObjectPath(checksum, "filez"), bytes);
        var url = fixture.Url(ServingTestRepo.ObjectPath(checksum, "filez"));
        Assert.Equal(bytes, await Client.GetByteArrayAsync(url));
        await AssertMultipartAsync(ServingTestRepo.ObjectPath(checksum, "filez"), bytes, [(0, 199_999), (299_000, 299_999)]);
    }

    [Fact]
    public async Task Get_LargeMutableFile_StreamsAllBytes()
    {
        using var response = await Client.GetAsync(fixture.Url("summary"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(fixture.LargeBytes.Length, response.Content.Headers.ContentLength);
        Assert.Equal(fixture.LargeBytes, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_NestedRef_IsServed()
    {
        using var response = await Client.GetAsync(fixture.Url("refs/heads/os/x86_64/stable"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("0123", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Get_DeltaPathWithPlusAndUnderscore_IsServedLiterally()
    {
        // mb64 folders contain '+' and '_' literally; nothing may turn '+' into a space.
        var folder = ServingTestRepo.ScratchDeltaFolder("fa" + "fb" + new string('f', 60)); // mb64 starts "+v"…, has '_' runs
        Assert.Contains('+', folder);
        Assert.Contains('_', folder);
        var part = ServingTestRepo.RandomBytes(50);
        ServingTestRepo.Write(fixture.Factory, folder + "/0", part);
        using var response = await Client.GetAsync(fixture.Url(folder + "/0"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(part, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_Object_ETagIsTheObjectChecksum()
    {
        using var response = await Client.GetAsync(fixture.Url(fixture.ObjectPath));
        Assert.Equal($"\"{fixture.ObjectChecksum}\"", response.Headers.ETag?.Tag);
        Assert.False(response.Headers.ETag!.IsWeak);
        Assert.NotNull(response.Content.Headers.LastModified);
    }

    [Fact]
    public async Task Get_MutableFile_ETagIsSha256OfContent()
    {
        using var response = await Client.GetAsync(fixture.Url("summary.sig"));
        var bytes = await response.Content.ReadAsByteArrayAsync();
        var expected = "\"" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)) + "\"";
        Assert.Equal(expected, response.Headers.ETag?.Tag);
    }

    [Fact]
    public async Task Get_DeltaPart_ETagIsSha256OfContent()
    {
        using var response = await Client.GetAsync(fixture.Url(fixture.DeltaFolder + "/1"));
        var bytes = await response.Content.ReadAsByteArrayAsync();
        var expected = "\"" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)) + "\"";
        Assert.Equal(expected, response.Headers.ETag?.Tag);
    }

    [Fact]
    public async Task Get_RewrittenMutableFile_ChangesETag()
    {
        using var factory = new OtaServerFactory();
        var client = factory.CreateClient();
        ServingTestRepo.Write(factory, "summary", ServingTestRepo.RandomBytes(400_000)); // large: goes through the hash cache
        using var first = await client.GetAsync("/repos/main/summary");
        var replacement = ServingTestRepo.RandomBytes(400_001);
        ServingTestRepo.Write(factory, "summary", replacement);
        using var second = await client.GetAsync("/repos/main/summary");
        Assert.NotEqual(first.Headers.ETag?.Tag, second.Headers.ETag?.Tag);
        Assert.Equal(replacement, await second.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Head_ReturnsGetHeadersWithoutBody()
    {
        using var get = await Client.GetAsync(fixture.Url(fixture.ObjectPath));
        using var head = await Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, fixture.Url(fixture.ObjectPath)));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(fixture.ObjectBytes.Length, head.Content.Headers.ContentLength);
        Assert.Equal(get.Headers.ETag, head.Headers.ETag);
        Assert.Equal(get.Headers.CacheControl, head.Headers.CacheControl);
        Assert.Equal(get.Content.Headers.LastModified, head.Content.Headers.LastModified);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_WithSingleRange_Returns206WithContentRange()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, fixture.Url(fixture.ObjectPath));
        request.Headers.Range = new RangeHeaderValue(100, 199);
        using var response = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal("bytes 100-199/10000", response.Content.Headers.ContentRange?.ToString());
        Assert.Equal(100, response.Content.Headers.ContentLength);
        Assert.Equal(fixture.ObjectBytes[100..200], await response.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("bytes=-500", 9500, 9999)]
    [InlineData("bytes=9000-", 9000, 9999)]
    [InlineData("bytes=9990-20000", 9990, 9999)]
    [InlineData("bytes=0-0", 0, 0)]
    public async Task Get_WithOpenOrSuffixRange_ClampsToFile(string range, int first, int last)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, fixture.Url(fixture.ObjectPath));
        request.Headers.TryAddWithoutValidation("Range", range);
        using var response = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal($"bytes {first}-{last}/10000", response.Content.Headers.ContentRange?.ToString());
        Assert.Equal(fixture.ObjectBytes[first..(last + 1)], await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_WithRangeOnLargeFile_Returns206AcrossChunks()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, fixture.Url("summary"));
        request.Headers.Range = new RangeHeaderValue(100_000, 599_999);
        using var response = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal(fixture.LargeBytes[100_000..600_000], await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_WithTwoRanges_ReturnsMultipartByteranges()
    {
        await AssertMultipartAsync(fixture.ObjectPath, fixture.ObjectBytes, [(0, 9), (5000, 5099), (9990, 9999)]);
    }

    [Fact]
    public async Task Get_WithTwoRangesOnLargeFile_ReturnsMultipartByteranges()
    {
        await AssertMultipartAsync("summary", fixture.LargeBytes, [(10, 200_009), (500_000, 699_999)]);
    }

    [Fact]
    public async Task Get_WithTwoRangesOnSmallMutableFile_ReturnsMultipartByteranges()
    {
        var bytes = await Client.GetByteArrayAsync(fixture.Url("summary.sig"));
        await AssertMultipartAsync("summary.sig", bytes, [(0, 0), (599, 599)]);
    }

    private async Task AssertMultipartAsync(string path, byte[] expected, (int First, int Last)[] ranges)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, fixture.Url(path));
        request.Headers.TryAddWithoutValidation("Range", "bytes=" + string.Join(",", ranges.Select(r => $"{r.First}-{r.Last}")));
        using var response = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        var contentType = response.Content.Headers.ContentType!;
        Assert.Equal("multipart/byteranges", contentType.MediaType);
        var boundary = HeaderUtilities.RemoveQuotes(contentType.Parameters.Single(p => p.Name == "boundary").Value).ToString();
        var body = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(response.Content.Headers.ContentLength, body.Length);

        var reader = new MultipartReader(boundary, new MemoryStream(body)) { BodyLengthLimit = null };
        foreach (var (first, last) in ranges)
        {
            var section = await reader.ReadNextSectionAsync();
            Assert.NotNull(section);
            Assert.Equal("application/octet-stream", section.ContentType);
            Assert.Equal($"bytes {first}-{last}/{expected.Length}", section.Headers!["Content-Range"].ToString());
            using var part = new MemoryStream();
            await section.Body.CopyToAsync(part);
            Assert.Equal(expected[first..(last + 1)], part.ToArray());
        }
        Assert.Null(await reader.ReadNextSectionAsync());
    }

    [Fact]
    public async Task Get_WithOverlappingRangesLargerThanFile_ReturnsWholeFile()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, fixture.Url(fixture.ObjectPath));
        request.Headers.TryAddWithoutValidation("Range", "bytes=0-9999,0-9999");
        using var response = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(fixture.ObjectBytes, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_WithMatchingIfRange_Returns206()
    {
        using var first = await Client.GetAsync(fixture.Url(fixture.ObjectPath));
        var request = new HttpRequestMessage(HttpMethod.Get, fixture.Url(fixture.ObjectPath));
        request.Headers.Range = new RangeHeaderValue(0, 9);
        request.Headers.IfRange = new RangeConditionHeaderValue(first.Headers.ETag!);
        using var response = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal(fixture.ObjectBytes[..10], await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_WithMatchingIfRangeDate_Returns206()
    {
        using var first = await Client.GetAsync(fixture.Url(fixture.ObjectPath));
        var request = new HttpRequestMessage(HttpMethod.Get, fixture.Url(fixture.ObjectPath));
        request.Headers.Range = new RangeHeaderValue(0, 9);
        request.Headers.IfRange = new RangeConditionHeaderValue(first.Content.Headers.LastModified!.Value);
        using var response = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
    }

    [Theory]
    [InlineData("\"0000000000000000000000000000000000000000000000000000000000000000\"")]
    [InlineData("Wed, 21 Oct 2015 07:28:00 GMT")]
    public async Task Get_WithStaleIfRange_ReturnsWholeFile(string ifRange)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, fixture.Url(fixture.ObjectPath));
        request.Headers.Range = new RangeHeaderValue(0, 9);
        request.Headers.TryAddWithoutValidation("If-Range", ifRange);
        using var response = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(fixture.ObjectBytes, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_WithWeakIfRange_ReturnsWholeFile()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, fixture.Url(fixture.ObjectPath));
        request.Headers.Range = new RangeHeaderValue(0, 9);
        request.Headers.TryAddWithoutValidation("If-Range", $"W/\"{fixture.ObjectChecksum}\"");
        using var response = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("bytes=10000-")]
    [InlineData("bytes=20000-30000")]
    [InlineData("bytes=-0")]
    public async Task Get_WithUnsatisfiableRange_Returns416WithLength(string range)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, fixture.Url(fixture.ObjectPath));
        request.Headers.TryAddWithoutValidation("Range", range);
        using var response = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, response.StatusCode);
        Assert.Equal("bytes */10000", response.Content.Headers.ContentRange?.ToString());
    }

    [Theory]
    [InlineData("items=0-10")]
    [InlineData("bytes=10-5")]
    [InlineData("bytes=abc")]
    public async Task Get_WithUnusableRange_IgnoresIt(string range)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, fixture.Url(fixture.ObjectPath));
        request.Headers.TryAddWithoutValidation("Range", range);
        using var response = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(fixture.ObjectBytes.Length, (await response.Content.ReadAsByteArrayAsync()).Length);
    }

    [Fact]
    public async Task Head_WithRange_IgnoresRange()
    {
        var request = new HttpRequestMessage(HttpMethod.Head, fixture.Url(fixture.ObjectPath));
        request.Headers.Range = new RangeHeaderValue(0, 9);
        using var response = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(fixture.ObjectBytes.Length, response.Content.Headers.ContentLength);
    }

    [Theory]
    [InlineData("objects")]
    [InlineData("summary.sig")]
    [InlineData("summary")]
    [InlineData("delta")]
    public async Task Get_WithMatchingIfNoneMatch_Returns304(string which)
    {
        var path = which switch
        {
            "objects" => fixture.ObjectPath,
            "delta" => fixture.DeltaFolder + "/superblock",
            _ => which,
        };
        using var first = await Client.GetAsync(fixture.Url(path));
        var request = new HttpRequestMessage(HttpMethod.Get, fixture.Url(path));
        request.Headers.IfNoneMatch.Add(new System.Net.Http.Headers.EntityTagHeaderValue("\"other\""));
        request.Headers.IfNoneMatch.Add(first.Headers.ETag!);
        using var response = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Equal(first.Headers.ETag, response.Headers.ETag);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Get_WithNonMatchingIfNoneMatch_Returns200()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, fixture.Url(fixture.ObjectPath));
        request.Headers.IfNoneMatch.Add(new System.Net.Http.Headers.EntityTagHeaderValue("\"other\""));
        using var response = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Get_WithIfModifiedSinceNotPassed_Returns304()
    {
        using var first = await Client.GetAsync(fixture.Url("summary.sig"));
        var request = new HttpRequestMessage(HttpMethod.Get, fixture.Url("summary.sig"));
        request.Headers.IfModifiedSince = first.Content.Headers.LastModified;
        using var response = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);

        var older = new HttpRequestMessage(HttpMethod.Get, fixture.Url("summary.sig"));
        older.Headers.IfModifiedSince = first.Content.Headers.LastModified!.Value.AddHours(-1);
        using var modified = await Client.SendAsync(older);
        Assert.Equal(HttpStatusCode.OK, modified.StatusCode);
    }

    [Fact]
    public async Task Get_WithFailingIfMatch_Returns412()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, fixture.Url(fixture.ObjectPath));
        request.Headers.IfMatch.Add(new System.Net.Http.Headers.EntityTagHeaderValue("\"other\""));
        using var response = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.PreconditionFailed, response.StatusCode);
    }

    [Theory]
    [InlineData("object", "public, max-age=31536000, immutable")]
    [InlineData("dirtree", "public, max-age=31536000, immutable")]
    [InlineData("superblock", "no-cache")]
    [InlineData("part", "public, max-age=31536000, immutable")]
    [InlineData("summary", "no-cache")]
    [InlineData("summary.sig", "no-cache")]
    [InlineData("config", "no-cache")]
    [InlineData("refs/heads/main", "no-cache")]
    [InlineData("delta-index", "no-cache")]
    [InlineData("commitmeta", "no-cache")]
    public async Task Get_SetsCacheControlPerPathKind(string which, string expected)
    {
        var path = which switch
        {
            "object" => fixture.ObjectPath,
            "dirtree" => ServingTestRepo.ObjectPath(fixture.ObjectChecksum, "dirtree"),
            "commitmeta" => ServingTestRepo.ObjectPath(fixture.ObjectChecksum, "commitmeta"),
            "superblock" => fixture.DeltaFolder + "/superblock",
            "part" => fixture.DeltaFolder + "/0",
            "delta-index" => fixture.DeltaIndexPath,
            _ => which,
        };
        using var response = await Client.GetAsync(fixture.Url(path));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expected, response.Headers.CacheControl?.ToString());
    }

    [Theory]
    [InlineData("objects/00/0000000000000000000000000000000000000000000000000000000000000000.filez")]
    [InlineData("objects/00/0000000000000000000000000000000000000000000000000000000000000000.commitmeta")]
    [InlineData("deltas/AA/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/superblock")]
    [InlineData("refs/heads/nope")]
    [InlineData("summary.sig.tmp")]
    [InlineData("")]
    [InlineData("objects")]
    [InlineData("objects/")]
    [InlineData("objects/ab")]
    [InlineData("refs/heads")]
    [InlineData("refs/heads/os")]
    [InlineData("deltas")]
    [InlineData("tmp")]
    [InlineData("tmp/secret")]
    [InlineData("state/secret")]
    [InlineData("extensions/secret")]
    [InlineData(".lock")]
    [InlineData("objects/ab/.tmp-secret")]
    [InlineData("refs/remotes/origin/secret")]
    [InlineData("summary/")]
    public async Task Get_MissingDirectoryOrInternal_Returns404(string path)
    {
        using var response = await Client.GetAsync(fixture.Url(path));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain(ServingTestRepo.Canary, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Head_Missing_Returns404()
    {
        using var response = await Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, fixture.Url("summary.nope")));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Get_UnknownRepository_Returns404()
    {
        using var response = await Client.GetAsync("repos/other/config");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Post_IsNotAllowed()
    {
        using var response = await Client.PostAsync(fixture.Url("config"), new ByteArrayContent([]));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
    }

    [Fact]
    public async Task Get_SecondRepository_IsServedFromItsOwnRoot()
    {
        using var factory = new OtaServerFactory(new Dictionary<string, string?> { ["OtaServer:Repositories:0"] = "beta" });
        var client = factory.CreateClient();
        File.WriteAllText(Path.Combine(factory.RepoRoot("beta"), "summary"), "beta");
        Assert.Equal("beta", await client.GetStringAsync("/repos/beta/summary"));
        using var main = await client.GetAsync("/repos/main/summary");
        Assert.Equal(HttpStatusCode.NotFound, main.StatusCode);
    }
}
