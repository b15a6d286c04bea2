using Microsoft.AspNetCore.Http.HttpResults;
using OtaServer.Store;

namespace OtaServer.Waves;

/// <summary>
/// Waves own their tag: while a wave is open on a tag (not completed or cancelled), moving the tag to other targets would
/// serve the new target to every device of the tag behind the wave's back, so tagging and target creation are refused
/// unless forced.
/// </summary>
internal sealed class WaveTagGuard(WaveCatalog waves)
{
    /// <summary>A 409 naming the open wave of the first tag in <paramref name="movedTags"/> that has one, or null.</summary>
    public async ValueTask<ProblemHttpResult?> CheckAsync(IEnumerable<string> movedTags, bool force, string forceHint, CancellationToken cancellationToken)
    {
        if (force)
            return null;
        var all = (await waves.GetAsync(cancellationToken)).All;
        foreach (var tag in movedTags.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            if (all.FirstOrDefault(w => w.Tag == tag && !w.IsFinal) is not { } open)
                continue;
            return TypedResults.Problem(
                $"Tag '{tag}' belongs to wave '{open.Name}' (version {open.Version}, {open.Status}): moving it now would serve the new target " +
                $"to every device of the tag behind the wave's back. Complete or cancel the wave first (otactl waves complete|cancel {open.Name}), " +
                $"or force it ({forceHint}).",
                statusCode: StatusCodes.Status409Conflict, title: "Tag owned by an open wave",
                extensions: new Dictionary<string, object?> { ["wave"] = open.Name, ["tag"] = tag, ["waveVersion"] = open.Version });
        }
        return null;
    }
}
