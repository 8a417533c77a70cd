using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SnicRuntime.Contracts.Agent;

/// <summary>Mutual TLS material of a card agent: its server certificate (with key) and the authority callers' certificates must chain to.</summary>
public sealed record AgentTls(X509Certificate2 Server, X509Certificate2 Authority);

/// <summary>
/// The certificates of mutual TLS between the management plane and card agents: the management
/// plane's certificate authority issues each card a server certificate at enrollment and itself a
/// client certificate; each side accepts only a peer whose certificate chains to that authority
/// (a private root trusted for this purpose only, not the system store). ECDSA P-256 throughout.
/// </summary>
public static class AgentCertificates
{
    /// <summary>A new self-signed authority (10 years).</summary>
    public static X509Certificate2 CreateAuthority(string name)
    {
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddYears(10));
    }

    /// <summary>Issues a card's server certificate (for 127.0.0.1 / localhost and <paramref name="names"/>) or a client certificate.</summary>
    public static X509Certificate2 Issue(X509Certificate2 authority, string subject, bool server, params string[] names)
    {
        ArgumentNullException.ThrowIfNull(authority);
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={subject}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid(server ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], true));
        if (server)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            san.AddDnsName("localhost");
            foreach (string n in names)
            {
                if (IPAddress.TryParse(n, out IPAddress? ip))
                {
                    san.AddIpAddress(ip);
                }
                else
                {
                    san.AddDnsName(n);
                }
            }

            request.CertificateExtensions.Add(san.Build());
        }

        byte[] serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using X509Certificate2 issued = request.Create(authority, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddYears(2), serial);
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>True when <paramref name="certificate"/> chains to <paramref name="authority"/> (and only it is trusted).</summary>
    public static bool ChainsTo(X509Certificate2? certificate, X509Certificate2 authority)
    {
        if (certificate is null)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }

    /// <summary>Writes a certificate and its private key as PEM (one file, key after certificate).</summary>
    public static void Save(X509Certificate2 certificate, string path)
    {
        string pem = certificate.ExportCertificatePem();
        if (certificate.GetECDsaPrivateKey() is ECDsa key)
        {
            pem += "\n" + key.ExportPkcs8PrivateKeyPem();
        }

        File.WriteAllText(path, pem + "\n");
    }

    /// <summary>Reads what <see cref="Save"/> wrote (a certificate alone is fine for the authority).</summary>
    public static X509Certificate2 Load(string path)
    {
        string pem = File.ReadAllText(path);
        X509Certificate2 cert = pem.Contains("PRIVATE KEY", StringComparison.Ordinal)
            ? X509Certificate2.CreateFromPem(pem, pem)
            : X509Certificate2.CreateFromPem(pem);
        // Kestrel needs the key in a form the TLS stack can use on every platform: re-import as PKCS#12.
        return cert.HasPrivateKey ? X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pkcs12), null) : cert;
    }
}
