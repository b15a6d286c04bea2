namespace OtaServer.OSTree.StaticDeltas;

/// <summary>One opcode of an encoded object, with payload offsets relative to the object's own payload.</summary>
internal readonly record struct DeltaOp(DeltaOpCode Code, long Arg1 = 0, long Arg2 = 0);

internal enum DeltaOpCode : byte
{
    /// <summary><c>S</c> for metadata: (size, payload offset).</summary>
    SpliceMetadata,

    /// <summary><c>S</c> for content: mode/xattr of the object, then (size, payload offset).</summary>
    SpliceContent,

    /// <summary><c>o</c>: mode/xattr of the object, then (size).</summary>
    Open,

    /// <summary><c>w</c> from the payload: (length, payload offset).</summary>
    WritePayload,

    /// <summary><c>w</c> from the read source: (length, source offset).</summary>
    WriteSource,

    /// <summary><c>r</c>: (payload offset of the 32-byte source checksum).</summary>
    SetReadSource,

    /// <summary><c>R</c>.</summary>
    UnsetReadSource,

    /// <summary><c>c</c>.</summary>
    Close,

    /// <summary><c>B</c>: (payload offset, length).</summary>
    BsPatch,
}

/// <summary>A new object turned into payload bytes + opcodes, ready to be appended to a part.</summary>
internal sealed class EncodedObject
{
    public required ObjectName Name { get; init; }

    public required DeltaStrategy Strategy { get; init; }

    /// <summary>Content objects: uid/gid/mode/xattrs for the mode and xattr tables.</summary>
    public FileHeader? Header { get; init; }

    /// <summary>The object's payload segments, concatenated in order.</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> Payload { get; init; } = [];

    public IReadOnlyList<DeltaOp> Ops { get; init; } = [];

    /// <summary>The part header's usize contribution (metadata size, regular file size, 0 for symlinks).</summary>
    public long USize { get; init; }

    /// <summary>Size counted against the part limit before placing (ostree: content size for plain objects, 0 for diffs).</summary>
    public long PlacementSize { get; init; }

    /// <summary>Set for <see cref="DeltaStrategy.Fallback"/>: the object's stored <c>.filez</c> size and content size.</summary>
    public ContentInfo? FallbackInfo { get; init; }
}

/// <summary>A finished part file.</summary>
internal sealed record DeltaPartHeader(int Index, Checksum Checksum, long Size, long USize, long PayloadSize, byte[] Objects);

