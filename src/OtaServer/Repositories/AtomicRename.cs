using System.Runtime.InteropServices;

namespace OtaServer.Repositories;

/// <summary>
/// Create-only renames. <see cref="File.Move(string, string, bool)"/> without overwrite checks and
/// renames in two steps, so two concurrent writers can both "create" the same name; here the kernel
/// decides (renameat2 with RENAME_NOREPLACE, or link + unlink for files where that is unsupported).
/// </summary>
internal static partial class AtomicRename
{
    private const int AtFdCwd = -100;
    private const uint RenameNoReplace = 1;
    private const int EEXIST = 17;
    private const int ENOTEMPTY = 39;
    private const int EINVAL = 22;
    private const int ENOSYS = 38;

    /// <summary>Moves a file or directory to <paramref name="destination"/> unless something is already there. Returns false if it was.</summary>
    public static bool TryMoveNoReplace(string source, string destination)
    {
        if (renameat2(AtFdCwd, source, AtFdCwd, destination, RenameNoReplace) == 0)
            return true;
        var errno = Marshal.GetLastPInvokeError();
        if (errno is EEXIST or ENOTEMPTY)
            return false;
        if (errno is EINVAL or ENOSYS && File.Exists(source))
        {
            if (link(source, destination) == 0)
            {
                File.Delete(source);
                return true;
            }
            errno = Marshal.GetLastPInvokeError();
            if (errno == EEXIST)
                return false;
        }
        throw new IOException($"Cannot move {source} to {destination}: errno {errno}");
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int renameat2(int olddirfd, string oldpath, int newdirfd, string newpath, uint flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int link(string oldpath, string newpath);
}
