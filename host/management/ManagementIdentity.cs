using SnicRuntime.Contracts.Agent;
using System.Security.Cryptography.X509Certificates;

namespace SnicRuntime.Management;

/// <summary>
/// The management plane's certificate authority and its own client certificate, kept under
/// <c>&lt;state&gt;/pki/</c>: made on first enrollment, used for every mutual-TLS call to a card.
/// </summary>
public sealed record ManagementIdentity(X509Certificate2 Authority, X509Certificate2 Client)
{
    public static string Directory(string stateDir) => Path.Combine(stateDir, "pki");

    /// <summary>Loads the identity, or null when no card has been enrolled yet.</summary>
    public static ManagementIdentity? Load(string stateDir)
    {
        string dir = Directory(stateDir);
        string ca = Path.Combine(dir, "authority.pem"), client = Path.Combine(dir, "client.pem");
        return File.Exists(ca) && File.Exists(client) ? new ManagementIdentity(AgentCertificates.Load(ca), AgentCertificates.Load(client)) : null;
    }

    /// <summary>Loads the identity, making the authority and client certificate first if there are none.</summary>
    public static ManagementIdentity LoadOrCreate(string stateDir)
    {
        if (Load(stateDir) is ManagementIdentity existing)
        {
            return existing;
        }

        string dir = Directory(stateDir);
        System.IO.Directory.CreateDirectory(dir);
        X509Certificate2 authority = AgentCertificates.CreateAuthority("SnicRuntime management plane");
        X509Certificate2 client = AgentCertificates.Issue(authority, "snicctl", server: false);
        AgentCertificates.Save(authority, Path.Combine(dir, "authority.pem"));
        AgentCertificates.Save(client, Path.Combine(dir, "client.pem"));
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(Path.Combine(dir, "authority.pem"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
            File.SetUnixFileMode(Path.Combine(dir, "client.pem"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return Load(stateDir)!;
    }

    /// <summary>Issues a card's server certificate and writes what the card starts with: <c>card.pem</c> (certificate and key) and <c>ca.pem</c> (authority, no key).</summary>
    public void Enroll(string cardName, string outDir)
    {
        System.IO.Directory.CreateDirectory(outDir);
        AgentCertificates.Save(AgentCertificates.Issue(Authority, cardName, server: true), Path.Combine(outDir, "card.pem"));
        File.WriteAllText(Path.Combine(outDir, "ca.pem"), Authority.ExportCertificatePem() + "\n");
    }
}
