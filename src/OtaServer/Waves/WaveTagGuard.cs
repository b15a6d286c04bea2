using OtaServer.Targets;

namespace OtaServer.Waves;

/// <summary>
/// Waves own their tag: while a wave is open on a tag (not completed or cancelled), moving the tag to other targets would
/// serve the new target to every device of the tag behind the wave's back, so tagging and target creation are refused
/// unless forced.
/// </summary>
internal sealed class WaveTagGuard(WaveCatalog waves) : ITagOwners
{
    public async ValueTask<TagOwner?> FindOpenOwnerAsync(IEnumerable<string> tags, CancellationToken cancellationToken)
    {
        var all = (await waves.GetAsync(cancellationToken)).All;
        foreach (var tag in tags.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            if (all.FirstOrDefault(w => w.Tag == tag && !w.IsFinal) is { } open)
                return new TagOwner(tag, open.Name, open.Version, open.Status.ToString());
        }
        return null;
    }
}
