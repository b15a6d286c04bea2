namespace OtaServer.Targets;

/// <summary>An open wave that owns a tag: moving the tag would serve its devices behind the wave's back.</summary>
public sealed record TagOwner(string Tag, string Wave, long Version, string Status);

/// <summary>Who owns a tag (implemented by the waves feature, which sits above targets).</summary>
public interface ITagOwners
{
    /// <summary>The open wave of the first of <paramref name="tags"/> (in ordinal order) that has one, or null.</summary>
    ValueTask<TagOwner?> FindOpenOwnerAsync(IEnumerable<string> tags, CancellationToken cancellationToken);
}
