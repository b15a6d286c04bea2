using Microsoft.AspNetCore.Http.HttpResults;
using OtaServer.Repositories;

namespace OtaServer.Signing;

public static class SigningFeature
{
    /// <summary>Anonymous URL of the armored public keys that sign the summaries (for <c>ostree remote add --gpg-import</c>).</summary>
    public const string PublicKeysRoute = "/api/v1/repos/{repo}/signing-keys.asc";

    public static IServiceCollection AddSigning(this IServiceCollection services)
    {
        services.AddOptions<SigningOptions>().BindConfiguration(SigningOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<SummarySigner>();
        services.AddSingleton<ISummarySigner>(sp => sp.GetRequiredService<SummarySigner>());
        services.AddSingleton<CommitSignaturePolicy>();
        services.AddSingleton<CommitMetaStore>();
        return services;
    }

    public static IEndpointRouteBuilder MapSigning(this IEndpointRouteBuilder app)
    {
        app.MapGet(PublicKeysRoute, GetPublicKeys).AllowAnonymous().WithTags("Signing")
            .WithSummary("The armored OpenPGP public keys that sign this repository's summary.");
        return app;
    }

    internal static Results<FileContentHttpResult, ProblemHttpResult> GetPublicKeys(string repo, RepositoryRegistry registry, SummarySigner signer)
    {
        if (!registry.TryGet(repo, out _))
        {
            return Http.Problems.UnknownRepository(repo, registry.Names);
        }

        if (!signer.Enabled)
        {
            return TypedResults.Problem(statusCode: 404, title: "Summaries are not signed",
                detail: "No signing key is configured: set OtaServer:Signing:Keys:0:SecretKeyFile (see README, 'Signed updates').");
        }

        return TypedResults.File(signer.ExportPublicKeys(), "application/pgp-keys", "signing-keys.asc");
    }
}
