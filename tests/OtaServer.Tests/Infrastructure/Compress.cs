using System.IO.Compression;

namespace OtaServer.Tests.Infrastructure;

public static class Compress
{
    public static byte[] Zstd(byte[] data)
    {
        using var c = new ZstdSharp.Compressor(3);
        return c.Wrap(data).ToArray();
    }

    public static byte[] Gzip(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
            gz.Write(data);
        return ms.ToArray();
    }
}
