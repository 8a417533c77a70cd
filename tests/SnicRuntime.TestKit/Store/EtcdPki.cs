using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SnicRuntime.TestKit.Store;

/// <summary>
/// Certificates for an etcd cluster that checks who calls (<c>--client-cert-auth</c>): a CA, one
/// server certificate for 127.0.0.1 that every member presents, and client certificates whose common
/// name etcd takes as the user. PEM files in a directory, as an operator hands them to etcd and snicctl.
/// </summary>
public sealed class EtcdPki
{
    private readonly X509Certificate2 _ca;

    private EtcdPki(string dir, X509Certificate2 ca)
    {
        Directory = dir;
        _ca = ca;
        CaFile = Path.Combine(dir, "ca.pem");
        File.WriteAllText(CaFile, ca.ExportCertificatePem());
        (ServerCert, ServerKey) = Issue("server", "etcd-member", server: true);
    }

    public string Directory { get; }

    public string CaFile { get; }

    public string ServerCert { get; }

    public string ServerKey { get; }

    /// <summary>A new authority with its own server certificate, in <paramref name="dir"/>.</summary>
    public static EtcdPki Create(string dir, string name = "snic-test-ca")
    {
        System.IO.Directory.CreateDirectory(dir);
        ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256); // kept: the CA signs with it
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        X509Certificate2 ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return new EtcdPki(dir, ca);
    }

    /// <summary>A client certificate with <paramref name="commonName"/>: (certificate file, key file).</summary>
    public (string Cert, string Key) Client(string commonName) => Issue("client-" + commonName, commonName, server: false);

    private (string Cert, string Key) Issue(string file, string commonName, bool server)
    {
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        // etcd's members are clients of each other too, so the server certificate serves both.
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(server
            ? [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")]
            : [new Oid("1.3.6.1.5.5.7.3.2")], false));
        if (server)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            names.AddDnsName("localhost");
            request.CertificateExtensions.Add(names.Build());
        }

        byte[] serial = RandomNumberGenerator.GetBytes(12);
        using X509Certificate2 cert = request.Create(_ca, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(12), serial);
        string certFile = Path.Combine(Directory, file + ".pem"), keyFile = Path.Combine(Directory, file + "-key.pem");
        File.WriteAllText(certFile, cert.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        return (certFile, keyFile);
    }
}
