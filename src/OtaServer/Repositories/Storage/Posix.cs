namespace OtaServer.Repositories.Storage;

/// <summary>
/// Linux values the create-only file operations (<see cref="AtomicRename"/>, <c>Ingest.LooseObjectWriter</c>) call
/// libc with and test its errors against. The IOExceptions they throw carry the errno as <c>HResult</c>, as .NET's own do.
/// </summary>
internal static class Posix
{
    public const int AtFdCwd = -100;
    public const int ENOENT = 2;
    public const int EEXIST = 17;
    public const int EISDIR = 21;
    public const int EINVAL = 22;
    public const int ENOSPC = 28;
    public const int ENOSYS = 38;
    public const int ENOTEMPTY = 39;
    public const int EOPNOTSUPP = 95;
    public const int EDQUOT = 122;
}
